#!/usr/bin/env bash
# Runs every fuzz target (or the ones named) for a fixed time, one after the other, each
# from a fresh scratch corpus seeded with fuzz/seeds/<target>/ and with its dictionary, then
# prints per target: executions, coverage (cov/ft at start and end), corpus size, crashes.
# Stops at the first crash, naming the artifact and how to reproduce it.
#
# Usage: fuzz/run-all.sh [SECONDS_PER_TARGET] [TARGET...]
#
# Environment:
#   SECONDS_PER_TARGET  time per target when not given as an argument (default 600)
#   NO_SEEDS=1          start from an empty corpus without a dictionary (the baseline the
#                       seeds are measured against)
#   KEEP_CORPUS=1       keep what earlier runs added to the scratch corpus instead of
#                       starting again from the seeds
#   FUZZ_WORK           the scratch folder (default fuzz/corpus/run-all, gitignored); it
#                       holds <target>/ (the corpus), <target>.log and summary.txt
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
cd "$here"

seconds=${1:-${SECONDS_PER_TARGET:-600}}
if (($# > 0)); then shift; fi
if (($# > 0)); then
    targets=("$@")
else
    mapfile -t targets < <(cargo +nightly fuzz list)
fi
work=${FUZZ_WORK:-$here/corpus/run-all}
mkdir -p "$work"

# The dictionary and seeds of a target: its own, or those of the format it reads.
format_of() {
    case "$1" in
        checkpoint) echo safetensors ;;
        *) echo "$1" ;;
    esac
}

# The last value of `key: N` in the lines on stdin (0 when absent).
field() {
    grep -oE "$1:[[:space:]]+[0-9]+" | tail -n 1 | grep -oE '[0-9]+$' || echo 0
}

# A request for more memory than exists must reach the code as a failed allocation (which
# try_reserve turns into a clean error), not abort inside AddressSanitizer.
export ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}allocator_may_return_null=1

cargo +nightly fuzz build

summary="$work/summary.txt"
printf '%-16s %12s %9s %9s %9s %9s %7s %8s %7s\n' \
    target execs exec/s cov0 cov ft0 ft corpus crashes | tee "$summary"

for t in "${targets[@]}"; do
    corpus="$work/$t"
    log="$work/$t.log"
    if [[ ${KEEP_CORPUS:-} != 1 ]]; then
        rm -rf "$corpus"
    fi
    mkdir -p "$corpus"
    args=(-max_total_time="$seconds" -print_final_stats=1 -timeout=10)
    format=$(format_of "$t")
    if [[ ${NO_SEEDS:-} != 1 ]]; then
        if [[ -d seeds/$t ]]; then
            cp -n seeds/"$t"/* "$corpus"/
        fi
        if [[ -f dict/$format.dict ]]; then
            args+=(-dict="$here/dict/$format.dict")
        fi
    fi
    rc=0
    cargo +nightly fuzz run "$t" "$corpus" -- "${args[@]}" >"$log" 2>&1 || rc=$?

    execs=$(field stat::number_of_executed_units <"$log")
    rate=$(field stat::average_exec_per_sec <"$log")
    # `#N INITED cov: ...` after loading the corpus; the last status line at the end.
    init=$(grep -E '^#[0-9]+[[:space:]]+INITED' "$log" || true)
    last=$(grep -E '^#[0-9]+[[:space:]].*cov: ' "$log" | tail -n 1 || true)
    cov0=$(field cov <<<"$init")
    ft0=$(field ft <<<"$init")
    cov=$(field cov <<<"$last")
    ft=$(field ft <<<"$last")
    size=$(find "$corpus" -type f | wc -l)
    crashes=0
    if ((rc != 0)); then crashes=1; fi
    printf '%-16s %12s %9s %9s %9s %9s %7s %8s %7s\n' \
        "$t" "$execs" "$rate" "$cov0" "$cov" "$ft0" "$ft" "$size" "$crashes" | tee -a "$summary"

    if ((rc != 0)); then
        artifact=$(grep -oE 'Test unit written to [^ ]+' "$log" | tail -n 1 | sed 's/^Test unit written to //' || true)
        echo >&2
        echo "$t: libFuzzer exited with status $rc; log: $log" >&2
        grep -A1 -E 'panicked at' "$log" | head -n 4 >&2 || true
        grep -E '^==[0-9]+==ERROR|^SUMMARY:|^ALARM' "$log" | head -n 3 >&2 || true
        if [[ -n $artifact ]]; then
            echo "artifact: $artifact" >&2
            echo "reproduce: cargo +nightly fuzz run $t $artifact" >&2
        fi
        exit 1
    fi
done
echo "summary: $summary"
