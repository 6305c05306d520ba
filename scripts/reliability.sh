#!/usr/bin/env bash
# Runs the reliability suite (zipkin-testkit/tests) and writes RELIABILITY.md: every scenario
# with its figures and pass/fail, the test results, and a bounded fuzz run of the B3 parsers.
#
#   scripts/reliability.sh                 # release build, short runs (~2 min after building)
#   RELIABILITY_LONG=1 scripts/reliability.sh   # load runs of 20 s each
#   RELIABILITY_PROFILE=debug ...          # debug build (what `cargo test` in CI runs)
#   RELIABILITY_FUZZ_SECONDS=60 ...        # fuzz budget (0 skips; needs nightly + cargo-fuzz)
#
# CI runs the same tests, short, as part of `cargo test --workspace`.
set -euo pipefail
cd "$(dirname "$0")/.."

profile="${RELIABILITY_PROFILE:-release}"
fuzz_seconds="${RELIABILITY_FUZZ_SECONDS:-60}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
export RELIABILITY_FIGURES="$work/figures.jsonl"
: > "$RELIABILITY_FIGURES"
flags=()
[ "$profile" = release ] && flags=(--release)

started=$(date +%s)
echo "== cargo test -p zipkin-testkit ($profile${RELIABILITY_LONG:+, long})"
set +e
# One test at a time: figures (latency above all) are not disturbed by the suite's own tests.
cargo test "${flags[@]}" --locked --no-fail-fast -p zipkin-testkit -- --test-threads=1 2>&1 | tee "$work/test.log"
status=${PIPESTATUS[0]}
set -e
took=$(( $(date +%s) - started ))

fuzz_line="B3 fuzz (cargo +nightly fuzz): skipped"
if [ "$fuzz_seconds" != 0 ] && [ -d zipkin-runtime/fuzz ] && cargo +nightly fuzz --version >/dev/null 2>&1; then
  echo "== cargo +nightly fuzz run b3_parsers (${fuzz_seconds} s)"
  set +e
  # New inputs go to a scratch corpus (the first directory); the checked-in one is only read.
  mkdir -p "$work/corpus"
  (cd zipkin-runtime/fuzz && cargo +nightly fuzz run b3_parsers "$work/corpus" corpus/b3_parsers \
      -- -max_total_time="$fuzz_seconds" -max_len=4096 2>&1) > "$work/fuzz.log"
  fuzz_status=$?
  set -e
  fuzz_runs=$(grep -oE 'Done [0-9]+ runs' "$work/fuzz.log" | grep -oE '[0-9]+' | tail -1 || true)
  result=pass; [ $fuzz_status -ne 0 ] && result=FAIL
  printf '{"scenario":"I2 B3 fuzz (libFuzzer, bounded)","figure":"executions in %s s, max input 4096 bytes, crashes","value":"%s runs, %s","result":"%s"}\n' \
    "$fuzz_seconds" "${fuzz_runs:-?}" "$([ $fuzz_status -eq 0 ] && echo 0 || echo 'crash: see fuzz/artifacts')" "$result" >> "$RELIABILITY_FIGURES"
  fuzz_line="B3 fuzz: ${fuzz_seconds} s of cargo +nightly fuzz run b3_parsers, exit status $fuzz_status"
  [ $fuzz_status -ne 0 ] && status=1
fi

{
  echo "date: $(date -u +%Y-%m-%dT%H:%MZ)"
  echo "commit: $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- . ':!RELIABILITY.md' || echo ' (with local changes)')"
  if [ "${RELIABILITY_LONG:-}" = 1 ]; then runs="20 s (long)"; else runs="3 s (short)"; fi
  echo "profile: $profile; load runs: $runs each; tests one at a time"
  echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), load average at the end $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "toolchain: $(rustc --version)"
  echo "suite wall time: ${took} s (without the fuzz run)"
  echo "$fuzz_line"
} > "$work/meta.txt"

cargo run "${flags[@]}" --locked -q -p zipkin-testkit --bin reliability-report -- \
  "$RELIABILITY_FIGURES" "$work/test.log" "$work/meta.txt" RELIABILITY.md || status=1
exit "$status"
