#!/usr/bin/env bash
# Installs what Nex needs on a fresh Debian machine and does nothing when it is already there.
# Sourced by ./nex and ./run-tests; prints to stderr so it never mixes with command output.
#   NEX_APT_PACKAGES  extra Debian packages to require (space separated)

nex_log() { printf '%s\n' "$*" >&2; }

# What examples/build.sh compiles with: gcc and the NATS C client for the native service,
# clang's wasm32-wasi target for the WASM functions.
NEX_EXAMPLE_PACKAGES="gcc libc6-dev libnats-dev clang-14 lld-14 wasi-libc libclang-rt-14-dev-wasm32"

# What the sandbox drivers run with: bubblewrap and libseccomp (container); QEMU, socat for the guest's
# NATS forward, and the kernel decompressors `nex rootfs build` uses (microvm).
NEX_SANDBOX_PACKAGES="bubblewrap libseccomp2 qemu-system-x86 socat zstd lz4 xz-utils e2fsprogs"

# What the NativeAOT agent links with (the .NET SDK uses clang when there is one, else gcc).
NEX_AOT_PACKAGES="gcc libc6-dev"

nex_have_pkg_cmd() {   # command, package
    command -v "$1" >/dev/null 2>&1 || [ -x "/usr/sbin/$1" ] || [ -x "/usr/bin/$1" ]
}

nex_apt_install() {
    local missing=("$@")
    [ ${#missing[@]} -eq 0 ] && return 0
    local sudo=""
    if [ "$(id -u)" -ne 0 ]; then
        command -v sudo >/dev/null 2>&1 || { nex_log "nex: need root (or sudo) to install: ${missing[*]}"; return 1; }
        sudo="sudo"
    fi
    nex_log "nex: installing ${missing[*]} (apt-get)…"
    # Refresh the package lists once per machine, or when an install fails on stale lists.
    if [ ! -f /var/lib/apt/periodic/nex-updated ] || ! $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/tmp/nex-apt.log 2>&1; then
        $sudo apt-get update -qq >/tmp/nex-apt.log 2>&1 || { nex_log "nex: apt-get update failed:"; tail -5 /tmp/nex-apt.log >&2; return 1; }
        $sudo mkdir -p /var/lib/apt/periodic && $sudo touch /var/lib/apt/periodic/nex-updated
        $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/tmp/nex-apt.log 2>&1 \
            || { nex_log "nex: apt-get install ${missing[*]} failed:"; tail -5 /tmp/nex-apt.log >&2; return 1; }
    fi
}

nex_ensure_deps() {
    local want=()
    nex_have_pkg_cmd nats-server || want+=(nats-server)
    command -v setpriv >/dev/null 2>&1 || want+=(util-linux)
    local pkg
    for pkg in ${NEX_APT_PACKAGES:-}; do
        dpkg -s "$pkg" >/dev/null 2>&1 || want+=("$pkg")
    done
    nex_apt_install "${want[@]}" || return 1
    if ! command -v dotnet >/dev/null 2>&1; then
        nex_log "nex: the .NET 10 SDK is required (dotnet not found on PATH). See https://learn.microsoft.com/dotnet/core/install/linux-debian"
        return 1
    fi
    # nats-server lives in /usr/sbin on Debian, which non-root shells may not have on PATH.
    case ":$PATH:" in *:/usr/sbin:*) ;; *) export PATH="$PATH:/usr/sbin" ;; esac
}

# Publishes the NativeAOT agent to .build/agent/nex-agent (with the native V8 and Wasmtime libraries
# beside it) when the agent's sources changed since the last publish. Call it holding .build/.lock.
# An idle NativeAOT agent takes about 21 MiB against 61 MiB for `dotnet nex-agent.dll`; the node
# prefers an executable nex-agent beside it. Returns non-zero (log in .build/agent.log) on failure.
nex_publish_agent() {
    local root="$1" agent="$1/.build/agent"
    local stamp="$agent/.stamp"
    if [ -f "$stamp" ] && [ -x "$agent/nex-agent" ] && [ -z "$(find "$root/src/Nex.Agent" "$root/src/Nex.Protocol" "$root/src/Nex.Processes" "$root/src/Nex.Nats" \( -name bin -o -name obj \) -prune -o -type f -newer "$stamp" -print -quit 2>/dev/null)" ] \
        && [ -z "$(find "$root/Directory.Build.props" "$root/Directory.Packages.props" -newer "$stamp" -print -quit 2>/dev/null)" ]; then
        return 0
    fi
    nex_log "nex: building the native agent (NativeAOT, about a minute)…"
    rm -f "$stamp"
    if ! dotnet publish "$root/src/Nex.Agent/Nex.Agent.csproj" -c Release -p:SelfContained=true -o "$agent" --nologo -v quiet >"$root/.build/agent.log" 2>&1; then
        nex_log "nex: the native agent failed to build; last lines of $root/.build/agent.log:"
        grep -E "error" "$root/.build/agent.log" | tail -20 >&2 || tail -20 "$root/.build/agent.log" >&2
        return 1
    fi
    touch "$stamp"
}
