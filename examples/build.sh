#!/usr/bin/env bash
# Builds the example workloads into examples/*/build/. Needs gcc and libnats-dev (./run-tests installs them).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
mkdir -p "$here/echoservice/build"
gcc -O2 -Wall -Werror -o "$here/echoservice/build/echoservice" "$here/echoservice/echoservice.c" -lnats
echo "built $here/echoservice/build/echoservice"
