#!/usr/bin/env bash
# Runs the tests that exercise the runtime's unsafe code under Miri: the per-thread ring, the
# current-span slot (spans opened in place, closed out of order, unsampled children drawn
# late), span guards and their frames, futures, captured contexts, and the reporter's
# hand-off (overflow, shutdown races, a panicking transport).
#
#   scripts/miri.sh          # installs nightly's miri and rust-src components if missing
#
# Miri keeps its isolation (a virtual clock: timeouts do not depend on how slow interpretation
# is); operations it isolates, such as reading the executable's path, fail inside the program
# instead of stopping it. Threads left running at exit (the reporters') are not an error.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! cargo +nightly miri --version >/dev/null 2>&1; then
  echo "== installing the nightly toolchain's miri and rust-src components"
  rustup toolchain install nightly --profile minimal >/dev/null 2>&1 || true
  rustup component add --toolchain nightly miri rust-src
fi
cargo +nightly miri --version
cargo +nightly miri setup >/dev/null

export MIRIFLAGS="-Zmiri-isolation-error=warn-nobacktrace -Zmiri-ignore-leaks"
# Symbolising a backtrace under Miri takes minutes; the tests' own messages say enough.
export RUST_BACKTRACE=0

started=$SECONDS
echo "== unit tests: ring, spare tag boxes, futures, reporter hand-off, inline tag values"
cargo +nightly miri test -q -p zipkin-runtime --lib -- \
  reporter::ring \
  reporter::spares \
  span::frames \
  span::entered \
  tag_value:: \
  future:: \
  reporter::tests::a_burst \
  reporter::tests::a_full_thread_buffer \
  reporter::tests::a_first_span \
  reporter::tests::a_span_refused \
  reporter::tests::spans_moved \
  reporter::tests::a_panicking \
  reporter::tests::stopped_reporters
echo "== integration tests: the current-span slot, guards, futures, captured contexts"
cargo +nightly miri test -q -p zipkin-runtime --test drop_order --test in_place --test capture
echo "scripts/miri.sh: done in $((SECONDS - started)) s"
