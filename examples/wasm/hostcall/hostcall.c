/*
 * hostcall: calls any host service from WebAssembly, to try the `nex` imports
 * (docs/wasm-host-services.md). The payload names the call, one field per line:
 *
 *   <service>\n<method>\n<headers as JSON, or empty>\n<body…>
 *
 * and the reply is "<status>:<result>", status 200 on success, else the error code.
 *
 *   ./nex devrun examples/wasm/hostcall/build/hostcall.wasm --trigger hostcall
 *   ./nex invoke hostcall "$(printf 'kv\nset\n{"x-keyvalue-key":"k"}\nvalue')"
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

__attribute__((import_module("nex"), import_name("host_call")))
int32_t nex_host_call(const char *service, size_t service_len, const char *method, size_t method_len,
                      const char *headers, size_t headers_len, const char *body, size_t body_len);

__attribute__((import_module("nex"), import_name("host_result")))
int32_t nex_host_result(char *buffer, size_t buffer_len);

static char input[1 << 20];

/* Splits off the next line of the input, in place. */
static char *next_line(char **cursor, char *end) {
    char *start = *cursor;
    char *newline = memchr(start, '\n', (size_t)(end - start));
    if (newline == NULL) {
        *cursor = end;
        return start;
    }
    *newline = '\0';
    *cursor = newline + 1;
    return start;
}

int main(void) {
    size_t length = fread(input, 1, sizeof input - 1, stdin);
    char *end = input + length;
    *end = '\0';
    char *cursor = input;
    char *service = next_line(&cursor, end);
    char *method = next_line(&cursor, end);
    char *headers = next_line(&cursor, end);
    char *body = cursor;

    int32_t n = nex_host_call(service, strlen(service), method, strlen(method), headers, strlen(headers), body, (size_t)(end - body));
    int32_t size = nex_host_result(NULL, 0);
    char *result = malloc((size_t)size + 1);
    nex_host_result(result, (size_t)size);
    printf("%d:%.*s", n >= 0 ? 200 : -n, (int)size, result);
    free(result);
    return 0;
}
