#!/usr/bin/env bash
# The Windows build of the workspace on Linux: compile check and clippy for
# x86_64-pc-windows-gnu, then the tests of the crates that run under Wine
# (docs/windows.md, "The file-system seam on Windows").
#
# Uses Debian's rustc-web/cargo-web with rust-web-src (-Zbuild-std: rustup cannot provide a
# std for the target here) and the mingw-w64 linker. As root, installs what is missing.
#
# Environment: CARGO_TARGET_DIR (default target/windows); the Wine prefix lives in it.
set -euo pipefail

cd "$(dirname "$0")/.."
root=$PWD
target_dir=${CARGO_TARGET_DIR:-$root/target/windows}

# Crates whose tests run under Wine: those with Windows code of their own (wclayer-win32,
# wclayer-fs) and those that reach the file system through it (wclayer-hcs, wclayer-store,
# wclayer-folder). The codecs (wclayer-backup, -layer, -tar) have no system-specific code:
# their Windows build is linted below, and running their tests under Wine too doubled the
# time of this script (docs/windows.md).
test_crates=(wclayer-fs wclayer-win32 wclayer-hcs wclayer-folder wclayer-store)

step() { printf '\n== [%ss] %s\n' "$SECONDS" "$*" >&2; }

# (a) Packages.
need=()
for tool in /usr/bin/rustc /usr/bin/cargo /usr/bin/cargo-clippy /usr/bin/x86_64-w64-mingw32-gcc \
    /usr/bin/x86_64-w64-mingw32-dlltool /usr/lib/wine/wine64; do
    [ -x "$tool" ] || need+=("$tool")
done
[ -d /usr/lib/rustlib/src/rust/library ] || need+=(rust-src)
if [ ${#need[@]} -gt 0 ]; then
    if [ "$(id -u)" != 0 ]; then
        echo "missing: ${need[*]}; run as root to install them" >&2
        exit 1
    fi
    step "installing the Windows toolchain (missing: ${need[*]})"
    apt-get update
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
        rustc-web cargo-web rust-web-src rust-web-clippy \
        binutils-mingw-w64-x86-64 gcc-mingw-w64-x86-64 wine64
fi
/usr/bin/rustc --version

win_cargo() {
    local sub=$1
    shift
    env PATH="/usr/bin:$PATH" RUSTC=/usr/bin/rustc RUSTDOC=/usr/bin/rustdoc RUSTC_BOOTSTRAP=1 \
        CARGO_TARGET_DIR="$target_dir" \
        CARGO_TARGET_X86_64_PC_WINDOWS_GNU_LINKER=x86_64-w64-mingw32-gcc \
        /usr/bin/cargo "$sub" -Zbuild-std=std,panic_abort --target x86_64-pc-windows-gnu \
        --config 'profile.dev.package."*".opt-level=0' "$@"
}

# (b) Compile check and lints of every library and binary of the workspace: clippy runs the
# compiler's full check (every error of `cargo check` fails it too), so a separate
# `cargo check` would only repeat that work. The test targets of the crates with Windows code
# are compiled (and so checked) by the next step; those of the others would add their
# dev-dependencies and minutes for code that has no Windows part. Dependencies are built
# without optimisation (the workspace optimises them for the Linux tests): it halves the
# build, and the tests under Wine are small.
step "check and clippy"
win_cargo clippy --workspace --lib --bins --locked -- -D warnings

# (c) Tests under Wine.
export WINEPREFIX="$target_dir/wineprefix" WINEDEBUG=-all
stub="$WINEPREFIX/drive_c/windows/system32/bcryptprimitives.dll"
if [ ! -f "$stub" ]; then
    step "Wine prefix"
    /usr/lib/wine/wine64 wineboot --init >/dev/null 2>&1 || true
    [ -d "$WINEPREFIX/drive_c/windows/system32" ] || { echo "wineboot failed" >&2; exit 1; }
    # Rust's std imports ProcessPrng from bcryptprimitives.dll, which Wine 8 lacks.
    x86_64-w64-mingw32-gcc -O2 -shared -o "$stub" scripts/windows/bcryptprimitives.c -lbcrypt
fi
step "tests under Wine: ${test_crates[*]}"
args=()
for c in "${test_crates[@]}"; do args+=(-p "$c"); done
CARGO_TARGET_X86_64_PC_WINDOWS_GNU_RUNNER=/usr/lib/wine/wine64 \
    win_cargo test --locked "${args[@]}"
if [ -x /usr/lib/wine/wineserver64 ]; then /usr/lib/wine/wineserver64 -k || true; fi
step "done"
