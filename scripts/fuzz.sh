#!/usr/bin/env bash
# Coverage-guided fuzzing with libFuzzer on stable Rust (docs/security.md, "Fuzzing").
#
#   scripts/fuzz.sh [SECONDS] [TARGET...]
#
# Builds the targets of fuzz/ with the sanitizer-coverage instrumentation libFuzzer needs,
# then runs each TARGET (default: all of fuzz/fuzz_targets/) for SECONDS (default 30), one
# after the other, starting from a scratch copy of its committed corpus fuzz/corpus/TARGET/
# (so the committed corpus never grows). Prints one summary line per target: executions,
# coverage (`cov`, `ft` of libFuzzer's last status line), result. A crash, timeout or
# out-of-memory input is copied to fuzz/artifacts/TARGET/ and printed (path and base64);
# the script then exits with status 1.
#
# Environment: CARGO_TARGET_DIR (default fuzz/target); FUZZ_WORK_DIR keeps the scratch
# corpora and logs there instead of a temporary directory that is removed at the end;
# FUZZ_ARGS adds libFuzzer flags (e.g. "-jobs=2 -workers=2"); FUZZ_TMPDIR is where the
# file-system targets make their temporary layer directories (default /dev/shm when it is
# writable: on a disk file system they run 10 to 50 times slower).
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD

seconds=${1:-30}
if [ $# -gt 0 ]; then shift; fi
case $seconds in
'' | *[!0-9]*)
    echo "usage: scripts/fuzz.sh [SECONDS] [TARGET...]" >&2
    exit 2
    ;;
esac
if [ $# -gt 0 ]; then
    targets=("$@")
else
    targets=()
    for f in fuzz/fuzz_targets/*.rs; do
        targets+=("$(basename "$f" .rs)")
    done
fi
for t in "${targets[@]}"; do
    if [ ! -f "fuzz/fuzz_targets/$t.rs" ]; then
        echo "fuzz.sh: no target $t (fuzz/fuzz_targets/$t.rs)" >&2
        exit 2
    fi
done

# libFuzzer's coverage feedback, from stable -C flags. The explicit --target keeps these
# flags away from build scripts (which would fail to link against the instrumentation).
triple=$(rustc -vV | sed -n 's/^host: //p')
export RUSTFLAGS="-Cpasses=sancov-module \
-Cllvm-args=-sanitizer-coverage-level=4 \
-Cllvm-args=-sanitizer-coverage-inline-8bit-counters \
-Cllvm-args=-sanitizer-coverage-pc-table \
-Cllvm-args=-sanitizer-coverage-trace-compares \
--cfg fuzzing"
bins=()
for t in "${targets[@]}"; do
    bins+=(--bin "$t")
done
echo "== building ${targets[*]} ($triple)"
cargo build --release --locked --target "$triple" --manifest-path fuzz/Cargo.toml "${bins[@]}"
target_dir=${CARGO_TARGET_DIR:-$repo/fuzz/target}
case $target_dir in /*) ;; *) target_dir=$repo/$target_dir ;; esac
bin_dir=$target_dir/$triple/release

if [ -n "${FUZZ_WORK_DIR:-}" ]; then
    work=$FUZZ_WORK_DIR
    mkdir -p "$work"
else
    work=$(mktemp -d)
    trap 'rm -rf "$work"' EXIT
fi

# A panic's message and stack trace in the log of the target that found it.
export RUST_BACKTRACE=${RUST_BACKTRACE:-1}
if [ -n "${FUZZ_TMPDIR:-}" ]; then
    export TMPDIR=$FUZZ_TMPDIR
elif [ -d /dev/shm ] && [ -w /dev/shm ]; then
    export TMPDIR=/dev/shm
fi

failed=()
summary=()
for t in "${targets[@]}"; do
    dir=$work/$t
    rm -rf "$dir"
    mkdir -p "$dir/corpus" "$dir/artifacts"
    cp fuzz/corpus/"$t"/* "$dir/corpus/"
    echo
    echo "== $t: ${seconds}s on $(find "$dir/corpus" -type f | wc -l) corpus files"
    status=0
    # -max_len: the seeds are at most 64 KiB; -timeout: one input, seconds;
    # -rss_limit_mb: the targets bound what an input can make them hold.
    # shellcheck disable=SC2086 # FUZZ_ARGS is a list of flags
    "$bin_dir/$t" -max_total_time="$seconds" -max_len=65536 -timeout=30 \
        -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$dir/artifacts/" \
        ${FUZZ_ARGS:-} "$dir/corpus" >"$dir/log" 2>&1 || status=$?
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$dir/log" | tail -n 1)
    last=$(grep -E '^#[0-9]+.*cov: ' "$dir/log" | tail -n 1 || true)
    cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$last")
    ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$last")
    result=ok
    if [ "$status" != 0 ]; then
        result="FAILED (exit $status)"
        failed+=("$t")
        tail -n 60 "$dir/log"
        mkdir -p "fuzz/artifacts/$t"
        for a in "$dir"/artifacts/*; do
            [ -f "$a" ] || continue
            cp "$a" "fuzz/artifacts/$t/"
            echo "finding: fuzz/artifacts/$t/$(basename "$a") ($(wc -c <"$a") bytes)"
            echo "base64: $(base64 -w0 "$a")"
            echo "replay: $bin_dir/$t fuzz/artifacts/$t/$(basename "$a")"
        done
    fi
    summary+=("$(printf '%-20s %6ss %12s execs  cov %-6s ft %-7s %s' \
        "$t" "$seconds" "${execs:-?}" "${cov:-?}" "${ft:-?}" "$result")")
    echo "${summary[-1]}"
done

echo
echo "== summary"
printf '%s\n' "${summary[@]}"
if [ ${#failed[@]} -gt 0 ]; then
    echo "fuzz.sh: findings in ${failed[*]} (inputs in fuzz/artifacts/)" >&2
    exit 1
fi
