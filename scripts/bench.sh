#!/usr/bin/env bash
# Runs every benchmark (ours beside every peer, in one `cargo bench` invocation per run) and
# writes BENCHMARKS.md: raw medians, ratios, pass/fail per target, versions, CPU, clock source.
#
#   scripts/bench.sh            3 full invocations (BENCH_RUNS=N to change), ~15 min; exits 1
#                               if a target fails
#   scripts/bench.sh --quick    1 short invocation, a CI smoke test: writes
#                               benches/target/BENCHMARKS.quick.md and exits 0 on missed
#                               targets (but not on a crash)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
quick=0
[[ "${1:-}" == "--quick" ]] && quick=1

cd benches
if ((quick)); then
    runs=1
    flags=(--warm-up-time 0.3 --measurement-time 0.7 --noplot)
    export ZIPKIN_BENCH_QUICK=1
    out="$root/benches/target/BENCHMARKS.quick.md"
    # A smoke run checks that every bench runs, not how fast: build without LTO and in
    # parallel codegen units, which takes minutes off a CI run (its figures are not comparable
    # with a full run's, and its report says so in its "profile" line).
    export CARGO_PROFILE_BENCH_LTO=off CARGO_PROFILE_BENCH_CODEGEN_UNITS=16 CARGO_PROFILE_BENCH_DEBUG=0
    export CARGO_PROFILE_RELEASE_LTO=off CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16 CARGO_PROFILE_RELEASE_DEBUG=0
    profile="bench, lto = off, codegen-units = 16 (a smoke run)"
else
    runs=${BENCH_RUNS:-3}
    flags=(--warm-up-time 1 --measurement-time 3 --noplot)
    out="$root/BENCHMARKS.md"
    profile="bench, lto = thin, codegen-units = 1"
fi

echo "== building the benches ($profile)"
cargo bench --locked --no-run 2>&1 | tail -n 3
cargo build --locked --release --bin report --bin codegen 2>&1 | tail -n 1

results=target/bench-results
rm -rf "$results"
mkdir -p "$results"
for i in $(seq 1 "$runs"); do
    echo "== invocation $i of $runs"
    rm -rf target/criterion
    ZIPKIN_BENCH_OUT="$(pwd)/target/criterion/extra" \
        cargo bench --locked -- "${flags[@]}" 2>&1 | tee "$results/run$i.log" \
        | grep -E '^[a-z0-9_]+/[a-z0-9_]+|time:|^extra' || true
    # A crashed bench binary must fail the script even in --quick mode.
    if grep -qE "panicked|error: bench failed|process didn't exit successfully" "$results/run$i.log"; then
        echo "a bench crashed in invocation $i; see benches/$results/run$i.log" >&2
        exit 2
    fi
    # Compile time, code size and frame of generated crates (benches/src/bin/codegen.rs).
    codegen_flags=()
    ((quick)) && codegen_flags=(--quick)
    # The generated crates are built as a user builds them, whatever profile the smoke run set.
    env -u CARGO_PROFILE_RELEASE_LTO -u CARGO_PROFILE_RELEASE_CODEGEN_UNITS -u CARGO_PROFILE_RELEASE_DEBUG \
        ZIPKIN_BENCH_OUT="$(pwd)/target/criterion/extra" ./target/release/codegen "${codegen_flags[@]}" \
        2>&1 | tee -a "$results/run$i.log" | grep -vE '^extra ' || {
        echo "the codegen benchmark failed in invocation $i; see benches/$results/run$i.log" >&2
        exit 2
    }
    cp -r target/criterion "$results/run$i"
done

{
    echo "date:        $(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "cpu:         $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')  ($(nproc) vCPU)"
    echo "clocksource: $(cat /sys/devices/system/clocksource/clocksource0/current_clocksource 2>/dev/null || echo unknown)"
    echo "cpu flags:   $(grep -m1 '^flags' /proc/cpuinfo | tr ' ' '\n' | grep -E '^(constant_tsc|nonstop_tsc|tsc_known_freq|rdtscp)$' | tr '\n' ' ')"
    echo "kernel:      $(uname -sr)"
    echo "load avg:    $(cut -d' ' -f1-3 /proc/loadavg) (at the end of the runs)"
    echo "rustc:       $(rustc --version)"
    echo "profile:     $profile"
    echo "criterion:   ${flags[*]}"
    echo "zipkin-rs:   $(git -C "$root" rev-parse --short HEAD)$(git -C "$root" diff --quiet || echo ' (dirty tree)')"
    echo "crates (cargo tree --depth 1):"
    # Local paths are shown relative to the repository: the report is committed.
    cargo tree --locked --depth 1 -e normal --prefix none 2>/dev/null | sort -u | grep -v '^zipkin-bench' |
        sed -e "s#$root#.#g" -e 's/^/  /'
} > "$results/machine.txt"

set +e
./target/release/report "$out" "$results/machine.txt" NOTES.md "$results"/run[0-9]*/
rc=$?
set -e
echo "== wrote $out"
if ((quick)); then
    exit 0
fi
exit $rc
