#!/usr/bin/env bash
# Runs the loom models of the per-thread ring (zipkin-runtime/src/reporter/ring.rs, module
# `tests::loom_models`): loom explores every interleaving of the ring's producer, consumer and
# readers of its counts, and fails on a slot read or written without the ordering that makes
# it safe; of the spare tag boxes going back to the ring's thread (reporter/spares.rs); and of
# the drainer's side of the hand-off (reporter/tests.rs): a thread's first spans and its exit
# racing a drain pass and the drainer's stop, every span queued or counted.
#
#   scripts/loom.sh
#
# Under `--cfg zipkin_loom` (a cfg of this crate's own: `cfg(loom)` would change tokio's
# behaviour too) the ring takes its atomics and cells from loom (reporter/sync.rs). The build
# goes to its own target directory, so it never invalidates the normal one. A debug build: the
# cfg rebuilds every dependency, and the test target's dev-dependencies in release took
# minutes where the models themselves run in seconds either way.
set -euo pipefail
cd "$(dirname "$0")/.."

export RUSTFLAGS="--cfg zipkin_loom"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-target}/loom"
export RUST_BACKTRACE=0

started=$SECONDS
echo "== loom models of the per-thread ring, its spare tag boxes and the drainer's hand-off"
cargo test -p zipkin-runtime --lib --no-default-features --locked -- loom
echo "scripts/loom.sh: done in $((SECONDS - started)) s"
