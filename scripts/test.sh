#!/usr/bin/env bash
# The project's test entry point (the README's test command, and what .ci/run calls).
# It installs and starts everything the tests need, runs every test, and stops what it started:
#
#   1. the real Zipkin server (scripts/zipkin-server.sh; reuses one already up on 127.0.0.1:9411)
#   2. the interop peers: py_zipkin, Brave, zipkin-go (scripts/peers.sh install all)
#   3. Debian's Chromium and playwright-core (tests/browser/, npm ci) for the browser check
#   4. cargo test --workspace, with ZIPKIN_E2E=1 so that tests needing Zipkin fail without it
#      (among them zipkin-tracing/tests/e2e_zipkin.rs: the tracing layer under axum + tower-http,
#      its log lines, and a call to the py_zipkin peer), and the runtime's feature test without
#      `http` and without `tls`
#   5. Miri on the tests of the runtime's unsafe code (scripts/miri.sh)
#   6. the demo (the README's first command) against Zipkin, and once into a file
#   7. the browser check: the demo's traces in the Zipkin UI, and a file loaded by "Upload JSON"
#
# Downloads are cached under ${ZIPKIN_RS_CACHE:-~/.cache/zipkin-rs} (the Zipkin jar, the peers),
# ~/.npm, ~/.cargo and apt's archive, so a second run fetches nothing.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"

export ZIPKIN_URL="${ZIPKIN_URL:-http://127.0.0.1:9411}"
export ZIPKIN_E2E=1
LOGS="$ROOT/target/test-logs"
mkdir -p "$LOGS"

T0=$SECONDS
step() { echo; echo "== $* (at $((SECONDS - T0))s)"; }

STOP_ZIPKIN=0
cleanup() {
  local rc=$?
  if ((STOP_ZIPKIN)); then
    step "stopping the Zipkin server this script started"
    bash scripts/zipkin-server.sh stop || true
  fi
  echo "scripts/test.sh: exit $rc after $((SECONDS - T0))s"
}
trap cleanup EXIT

as_root() {
  if [[ $(id -u) -eq 0 ]]; then "$@"; else sudo "$@"; fi
}

# trybuild builds its own copy of the dependencies and ignores our [profile.dev]; keep its debug
# info as small as ours (a full run with default debug info needs several GB of disk).
export CARGO_PROFILE_DEV_DEBUG="${CARGO_PROFILE_DEV_DEBUG:-line-tables-only}"
step "disk space"
df -h . | tail -n 1
avail_kb=$(df -Pk . | awk 'NR == 2 { print $4 }')
if ((avail_kb < 6 * 1024 * 1024)); then
  echo "warning: less than 6 GB free here; a cold run writes about 5 GB (cargo builds, peers, browser)" >&2
fi

step "Zipkin server"
if bash scripts/zipkin-server.sh status >/dev/null 2>&1; then
  echo "a Zipkin server is already up at $ZIPKIN_URL; using it (and leaving it running)"
else
  STOP_ZIPKIN=1
  bash scripts/zipkin-server.sh start
fi

step "interop peers (py_zipkin, Brave, zipkin-go)"
bash scripts/peers.sh install all

step "Chromium and playwright-core"
if [[ ! -x /usr/bin/chromium ]]; then
  as_root apt-get update -qq
  # With its recommended packages (fonts-liberation among them: the screenshots need fonts).
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium \
    >"$LOGS/apt-chromium.log" 2>&1 || { tail -n 30 "$LOGS/apt-chromium.log" >&2; exit 1; }
fi
/usr/bin/chromium --version 2>/dev/null || true
(cd tests/browser && npm ci --no-audit --no-fund --loglevel=error)

# From here on a failing step is recorded and the next steps still run, so that one run shows
# every failure; the script fails at the end if any step did.
FAILED=()

step "cargo test --workspace"
if ! cargo test --workspace --locked --no-fail-fast 2>&1 | tee "$LOGS/cargo-test.log"; then
  FAILED+=("cargo test --workspace")
fi

step "feature sets: without http, and http without tls (zipkin-runtime/tests/features.rs)"
for features in testing http,testing; do
  if ! cargo test -q -p zipkin-runtime --locked --no-default-features --features "$features" \
    --test features 2>&1 | tee -a "$LOGS/features.log"; then
    FAILED+=("feature set $features")
  fi
done

step "Miri: the tests of the runtime's unsafe code (scripts/miri.sh)"
if ! bash scripts/miri.sh 2>&1 | tee "$LOGS/miri.log"; then
  FAILED+=("Miri")
fi

step "the demo against Zipkin (cargo run --example demo)"
if ! cargo run -q --locked --example demo -- --zipkin "$ZIPKIN_URL/api/v2/spans" 2>&1 |
  tee "$LOGS/demo-zipkin.log"; then
  FAILED+=("the demo against Zipkin")
fi
TRACE_IDS="$(sed -n 's#^In Zipkin: .*/zipkin/traces/\([0-9a-f]*\)$#\1#p' "$LOGS/demo-zipkin.log" | paste -sd, -)"

step "the demo into a file (as on a machine without Zipkin)"
FILE_DIR="$ROOT/target/zipkin-demo-file"
rm -rf "$FILE_DIR"
if ! cargo run -q --locked --example demo -- --zipkin "file:$FILE_DIR/spans.json" 2>&1 |
  tee "$LOGS/demo-file.log"; then
  FAILED+=("the demo into a file")
fi
TRACE_FILES="$(find "$FILE_DIR" -name 'trace-*.json' 2>/dev/null | sort | paste -sd, - || true)"

step "browser check: Chromium opens the traces in the Zipkin UI"
rm -rf "$ROOT/target/browser"
# With no trace id the check fails by itself ("the demo sent at least one trace to check").
if ! DEMO_TRACE_IDS="$TRACE_IDS" DEMO_TRACE_FILES="$TRACE_FILES" SCREENSHOT_DIR="$ROOT/target/browser" \
  node --test tests/browser/ 2>&1 | tee "$LOGS/browser.log"; then
  FAILED+=("browser check")
fi
echo "screenshots: $(ls "$ROOT"/target/browser/*.png 2>/dev/null | paste -sd' ' -)"

step "benchmark smoke run (scripts/bench.sh --quick: never gates on targets, fails on a crash)"
if bash scripts/bench.sh --quick > "$LOGS/bench-quick.log" 2>&1; then
  sed -n '/^## Targets/,/not measured/p' benches/target/BENCHMARKS.quick.md
else
  tail -n 40 "$LOGS/bench-quick.log"
  echo "the benchmark smoke run crashed" >&2
  FAILED+=("benchmark smoke run")
fi

# One closing line over every runner above.
sum() { awk -v re="$1" '/^test result:/ { if (match($0, re)) { split(substr($0, RSTART, RLENGTH), w, " "); n += w[1] } } END { print n + 0 }' "$2"; }
passed=$(sum '[0-9]+ passed' "$LOGS/cargo-test.log")
failed=$(sum '[0-9]+ failed' "$LOGS/cargo-test.log")
bpass=$(sed -n 's/^# pass \([0-9]*\)$/\1/p' "$LOGS/browser.log")
bfail=$(sed -n 's/^# fail \([0-9]*\)$/\1/p' "$LOGS/browser.log")
echo
echo "total: $((passed + ${bpass:-0})) passed, $((failed + ${bfail:-0})) failed"
echo "disk: $(du -sh "$ROOT/target" "$ROOT/benches/target" 2>/dev/null | paste -sd' ' -); $(df -h . | awk 'NR == 2 { print $4 }') free"
if ((${#FAILED[@]})); then
  printf 'FAILED: %s\n' "${FAILED[@]}" >&2
  exit 1
fi
