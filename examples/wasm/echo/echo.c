// A Nex WASM function (WASI preview 1 command): writes its input followed by the trigger subject.
// Input "hello world" on subject "hello" replies "hello worldhello" (the Nex 0.2 reference behaviour).
//
// Per trigger the agent runs _start with argv = ["nexfunction", <trigger subject>], the payload on stdin
// (then EOF) and the request's environment; whatever is written to stdout is the reply (nothing written
// means no reply), stderr goes to the workload's log, and a non-zero exit means failure.
//
// Build: clang-14 --target=wasm32-wasi --sysroot=/usr -O2 -Wl,--strip-all -o echo.wasm echo.c
#include <stdio.h>

int main(int argc, char **argv) {
    char buffer[4096];
    size_t n;
    while ((n = fread(buffer, 1, sizeof buffer, stdin)) > 0) {
        if (fwrite(buffer, 1, n, stdout) != n) {
            return 1;
        }
    }
    if (argc > 1) {
        fputs(argv[1], stdout);
    }
    return 0;
}
