#!/usr/bin/env bash
# Builds the example workloads into examples/*/build/, installing the Debian packages they need
# (gcc and libnats-dev for the native service, clang-14's wasm32-wasi target for the WASM ones).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=../scripts/ensure-deps.sh
. "$here/../scripts/ensure-deps.sh"
export NEX_APT_PACKAGES="${NEX_APT_PACKAGES:-} $NEX_EXAMPLE_PACKAGES"
nex_ensure_deps
mkdir -p "$here/echoservice/build"
gcc -O2 -Wall -Werror -o "$here/echoservice/build/echoservice" "$here/echoservice/echoservice.c" -lnats
echo "built $here/echoservice/build/echoservice"

# WASM functions (WASI preview 1 commands, C compiled with clang's wasm32-wasi target).
for name in echo kv hostcall; do
  mkdir -p "$here/wasm/$name/build"
  clang-14 --target=wasm32-wasi --sysroot=/usr -O2 -Wall -Werror -Wl,--strip-all \
    -o "$here/wasm/$name/build/$name.wasm" "$here/wasm/$name/$name.c"
  echo "built $here/wasm/$name/build/$name.wasm"
done
