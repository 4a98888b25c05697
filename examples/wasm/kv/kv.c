// A Nex WASM function using host services (docs/wasm-host-services.md): stores the payload under the KV
// key "last", reads it back, and replies "kv[last] = <value>".
//
// Build: clang-14 --target=wasm32-wasi --sysroot=/usr -O2 -Wl,--strip-all -o kv.wasm kv.c
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

// ---- the nex import module (copy this block into your own functions) ----
__attribute__((import_module("nex"), import_name("host_call")))
int32_t nex_host_call(const char *service, size_t service_len,
                      const char *method, size_t method_len,
                      const char *headers_json, size_t headers_len,
                      const void *body, size_t body_len);

__attribute__((import_module("nex"), import_name("host_result")))
int32_t nex_host_result(void *buffer, size_t buffer_len);
// -------------------------------------------------------------------------

// Calls service.method and returns the result (NUL-terminated, malloc'ed) in *out; returns the result
// length, or the negative status with the error message in *out.
static int32_t call(const char *service, const char *method, const char *headers, const void *body, size_t body_len, char **out) {
    int32_t n = nex_host_call(service, strlen(service), method, strlen(method), headers, strlen(headers), body, body_len);
    int32_t length = n >= 0 ? n : nex_host_result(NULL, 0);
    *out = malloc((size_t)length + 1);
    nex_host_result(*out, (size_t)length);
    (*out)[length] = '\0';
    return n;
}

int main(void) {
    static char payload[65536];
    size_t length = fread(payload, 1, sizeof payload, stdin);
    const char *headers = "{\"x-keyvalue-key\":\"last\"}";
    char *result;

    if (call("kv", "set", headers, payload, length, &result) < 0) {
        fprintf(stderr, "kv.set failed: %s\n", result);
        return 1;
    }
    free(result);

    int32_t n = call("kv", "get", headers, "", 0, &result);
    if (n < 0) {
        fprintf(stderr, "kv.get failed: %s\n", result);
        return 1;
    }
    printf("kv[last] = %.*s", (int)n, result);
    free(result);
    return 0;
}
