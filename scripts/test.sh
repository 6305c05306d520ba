#!/usr/bin/env bash
# The project's test entry point (the README's test command, and what .ci/run calls).
# It installs and starts everything the tests need, runs every test, and stops what it started:
#
#   1. the real Zipkin server (scripts/zipkin-server.sh; reuses one already up on 127.0.0.1:9411),
#      and for the Kafka transport a real Kafka broker (scripts/kafka.sh, 127.0.0.1:9092, topic
#      zipkin) and a second Zipkin that consumes that topic (127.0.0.1:9412)
#   2. the interop peers: py_zipkin, Brave, zipkin-go (scripts/peers.sh install all)
#   3. Debian's Chromium and playwright-core (tests/browser/, npm ci) for the browser check, and
#      OpenSSL's headers (libssl-dev) when missing
#   4. lints: cargo fmt --check, clippy and rustdoc with -D warnings, and the docs as docs.rs
#      builds them (nightly, `--cfg docsrs`: each item behind a feature says which)
#   5. cargo test --workspace, with ZIPKIN_E2E=1 so that tests needing Zipkin fail without it
#      (tests/http_layers.rs, zipkin-tower/tests/tonic_e2e.rs and zipkin-tracing/tests/e2e_zipkin.rs
#      among them: the tracing layer under axum + tower-http, its log lines, and a call to the
#      py_zipkin peer), the runtime's feature test without `http` and without `tls`, a dry run of
#      `cargo package` (each published crate builds from its package, license included), and the
#      facade's integration features (tower, axum, reqwest, tracing, kafka) built alone and together,
#      and the published crates checked with the Rust of their `rust-version` (scripts/msrv.sh)
#   6. Miri on the tests of the runtime's unsafe code (scripts/miri.sh), and the loom models of
#      the per-thread ring, its spare tag boxes and the drainer's hand-off (scripts/loom.sh)
#   7. the demo (the README's first command) against Zipkin, once through Kafka, and once into a file
#   8. the browser check: the demo's traces in the Zipkin UI, and a file loaded by "Upload JSON"
#   9. a smoke run of the benchmarks (scripts/bench.sh --quick: fails only on a crash)
#
# Downloads are cached under ${ZIPKIN_RS_CACHE:-~/.cache/zipkin-rs} (the Zipkin jar, Kafka's jars, the peers),
# ~/.npm, ~/.cargo and apt's archive, so a second run fetches nothing.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"

export ZIPKIN_URL="${ZIPKIN_URL:-http://127.0.0.1:9411}"
export ZIPKIN_E2E=1
# The Kafka tests (tests/kafka/mod.rs): the broker, and the Zipkin that consumes its topic.
export KAFKA_BOOTSTRAP="${KAFKA_BOOTSTRAP:-127.0.0.1:9092}"
export ZIPKIN_KAFKA_PORT="${ZIPKIN_KAFKA_PORT:-9412}"
export ZIPKIN_KAFKA_URL="http://127.0.0.1:$ZIPKIN_KAFKA_PORT"
export KAFKA_E2E=1
LOGS="$ROOT/target/test-logs"
mkdir -p "$LOGS"

T0=$SECONDS
step() { echo; echo "== $* (at $((SECONDS - T0))s)"; }

STOP_ZIPKIN=0
STOP_KAFKA=0
STOP_ZIPKIN_KAFKA=0
cleanup() {
  local rc=$?
  if ((STOP_ZIPKIN_KAFKA)); then
    step "stopping the Kafka-consuming Zipkin server this script started"
    ZIPKIN_PORT="$ZIPKIN_KAFKA_PORT" bash scripts/zipkin-server.sh stop || true
  fi
  if ((STOP_KAFKA)); then
    step "stopping the Kafka broker this script started"
    bash scripts/kafka.sh stop || true
  fi
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

step "Kafka broker (scripts/kafka.sh) and a Zipkin server consuming its topic"
if bash scripts/kafka.sh status >/dev/null 2>&1; then
  echo "a Kafka broker is already up at $KAFKA_BOOTSTRAP; using it (and leaving it running; it needs the topic zipkin)"
else
  STOP_KAFKA=1
  bash scripts/kafka.sh start
fi
if ZIPKIN_PORT="$ZIPKIN_KAFKA_PORT" bash scripts/zipkin-server.sh status >/dev/null 2>&1; then
  echo "a Zipkin server is already up at $ZIPKIN_KAFKA_URL; using it (and leaving it running)"
else
  STOP_ZIPKIN_KAFKA=1
fi
# `start` also checks that a server already up there consumes this broker's topic.
ZIPKIN_PORT="$ZIPKIN_KAFKA_PORT" ZIPKIN_KAFKA_BOOTSTRAP="$KAFKA_BOOTSTRAP" bash scripts/zipkin-server.sh start

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
# OpenSSL's headers: zipkin-testkit's tests put reqwest's default TLS in the build, as an
# application's own reqwest does, to check that the reporter still uses rustls.
if ! pkg-config --exists openssl 2>/dev/null; then
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libssl-dev pkg-config \
    >"$LOGS/apt-openssl.log" 2>&1 || { tail -n 30 "$LOGS/apt-openssl.log" >&2; exit 1; }
fi

# From here on a failing step is recorded and the next steps still run, so that one run shows
# every failure; the script fails at the end if any step did.
FAILED=()

step "lints: cargo fmt --check, clippy and rustdoc with -D warnings (all features)"
if ! { cargo fmt --all --check &&
  cargo clippy --workspace --all-targets --all-features --locked -- -D warnings &&
  RUSTDOCFLAGS="-D warnings" cargo doc --workspace --all-features --no-deps --locked; } \
  2>&1 | tee "$LOGS/lints.log"; then
  FAILED+=("lints")
fi

step "docs as docs.rs builds them: nightly rustdoc, --cfg docsrs, all features, feature badges"
docs_rs() {
  local out="${CARGO_TARGET_DIR:-target}/docsrs"
  RUSTDOCFLAGS="--cfg docsrs -D warnings" CARGO_TARGET_DIR="$out" cargo +nightly doc -q \
    --no-deps --all-features --locked -p zipkin-rs -p zipkin-runtime -p zipkin-rs-macros \
    -p zipkin-tower -p zipkin-reqwest -p zipkin-tracing || return 1
  # Without `feature(doc_cfg)` the build passes and the badges are missing.
  grep -q 'Available on crate feature `tracing` only' "$out/doc/zipkin_rs/index.html" ||
    { echo "zipkin_rs's docs do not say which feature an item needs"; return 1; }
  # A link rustdoc could not resolve in docs the facade inlines from another crate (one to
  # `tower::Layer`, a crate the facade does not depend on) is shown as literal `[Layer]`,
  # without a warning. Module pages show every item's summary.
  local unresolved
  unresolved=$(find "$out/doc/zipkin_rs" -name index.html -exec grep -Ho '\[<code>[^<]*</code>\]' {} +) || true
  [[ -z $unresolved ]] || { echo "unresolved links in zipkin_rs's docs:"; echo "$unresolved"; return 1; }
}
if ! docs_rs 2>&1 | tee "$LOGS/docs-rs.log"; then
  FAILED+=("docs.rs build")
fi

step "cargo test --workspace"
if ! cargo test --workspace --locked --no-fail-fast 2>&1 | tee "$LOGS/cargo-test.log"; then
  FAILED+=("cargo test --workspace")
fi

step "feature sets: without http, http without tls, kafka without http (zipkin-runtime/tests/features.rs), each warning-free"
for features in testing http,testing kafka,testing; do
  if ! cargo test -q -p zipkin-runtime --locked --no-default-features --features "$features" \
    --test features 2>&1 | tee -a "$LOGS/features.log"; then
    FAILED+=("feature set $features")
  fi
done
# The lints step builds every feature at once; code that only another feature uses warns in
# a user's build without it (a `kafka`-only build warned 7 times).
for features in "" http kafka tokio,serde; do
  if ! cargo clippy -q -p zipkin-runtime --locked --no-default-features --features "$features" \
    -- -D warnings 2>&1 | tee -a "$LOGS/features.log"; then
    FAILED+=("warnings with features '$features'")
  fi
done

step "cargo package: the published crates build from their packages, with their license"
package_check() {
  # cargo verifies each package against the others through a local registry, and reuses what it
  # unpacked from an earlier run of the same version: remove those copies so that the check
  # builds this tree's sources.
  rm -rf "${CARGO_HOME:-$HOME/.cargo}"/registry/src/-*/zipkin-*
  cargo package --workspace --exclude zipkin-testkit --locked --allow-dirty 2>&1 | tail -n 3
  [[ ${PIPESTATUS[0]} == 0 ]] || return 1
  for c in zipkin-rs zipkin-runtime zipkin-rs-macros zipkin-tower zipkin-reqwest zipkin-tracing; do
    grep -qx "$c-0.1.0/LICENSE" <(tar tzf "${CARGO_TARGET_DIR:-target}/package/$c-0.1.0.crate") ||
      { echo "target/package/$c-0.1.0.crate has no LICENSE"; return 1; }
  done
}
if ! package_check 2>&1 | tee "$LOGS/package.log"; then
  FAILED+=("cargo package")
fi

step "the oldest Rust the manifests promise (scripts/msrv.sh: rust-version, all features and none)"
if ! bash scripts/msrv.sh 2>&1 | tee "$LOGS/msrv.log"; then
  FAILED+=("rust-version")
fi

step "integration features alone and together (tower, axum, tonic, reqwest, tracing, kafka; with and without the defaults)"
for features in tower axum tonic reqwest tracing kafka tower,reqwest axum,tonic,reqwest,tracing,kafka; do
  for defaults in --no-default-features ""; do
    if ! cargo check -q -p zipkin-rs --locked $defaults --features "$features" 2>&1 |
      tee -a "$LOGS/features.log"; then
      FAILED+=("facade features $features $defaults")
    fi
  done
done

step "Miri: the tests of the runtime's unsafe code (scripts/miri.sh)"
if ! bash scripts/miri.sh 2>&1 | tee "$LOGS/miri.log"; then
  FAILED+=("Miri")
fi

step "loom: the models of the per-thread ring, its spare tag boxes and the drainer's hand-off (scripts/loom.sh)"
if ! bash scripts/loom.sh 2>&1 | tee "$LOGS/loom.log"; then
  FAILED+=("loom")
fi

step "the demo against Zipkin (cargo run --example demo)"
if ! cargo run -q --locked --example demo -- --zipkin "$ZIPKIN_URL/api/v2/spans" 2>&1 |
  tee "$LOGS/demo-zipkin.log"; then
  FAILED+=("the demo against Zipkin")
fi
TRACE_IDS="$(sed -n 's#^In Zipkin: .*/zipkin/traces/\([0-9a-f]*\)$#\1#p' "$LOGS/demo-zipkin.log" | paste -sd, -)"

step "the demo through Kafka (ZIPKIN_ENDPOINT=kafka://... alone; it finds the Zipkin consuming the topic)"
if ! ZIPKIN_ENDPOINT="kafka://$KAFKA_BOOTSTRAP/zipkin" \
  cargo run -q --locked --example demo 2>&1 | tee "$LOGS/demo-kafka.log"; then
  FAILED+=("the demo through Kafka")
fi

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
