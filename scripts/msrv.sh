#!/usr/bin/env bash
# Checks that the published crates build with the oldest Rust their manifests promise
# (`rust-version` in the root Cargo.toml), all features and none.
#
#   scripts/msrv.sh
#
# That toolchain cannot use this repository's Cargo.lock: it holds the newest versions, and some
# of them need a newer Rust (or even a newer Cargo to parse their manifest). A user on the old
# toolchain resolves with Cargo's MSRV-aware fallback, which prefers the newest version of each
# dependency that still supports the workspace's `rust-version`; so does this script, in a copy
# of the tree (target/msrv/tree), so that the repository's lockfile is never touched. The
# toolchain is installed by rustup (minimal profile) the first time.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"

msrv=$(sed -n 's/^rust-version = "\([0-9.]*\)"$/\1/p' Cargo.toml | head -n 1)
[[ -n $msrv ]] || { echo "scripts/msrv.sh: no rust-version in Cargo.toml" >&2; exit 1; }
started=$SECONDS
echo "== the published crates with Rust $msrv (Cargo.toml's rust-version)"
rustup toolchain install "$msrv" --profile minimal --no-self-update 2>&1 | tail -n 1

# A fixed path, so that the second run rebuilds only what changed.
tree="$ROOT/target/msrv/tree"
rm -rf "$tree"
mkdir -p "$tree"
# Tracked and new files; one deleted but not yet staged is skipped.
git ls-files -z --cached --others --exclude-standard -- . ':!:benches' |
  tar --null -T - --ignore-failed-read -cf - 2>/dev/null | tar -xf - -C "$tree"
cd "$tree"
# The fallback resolution needs Cargo 1.84 or later: the default toolchain's, not the old one's.
CARGO_RESOLVER_INCOMPATIBLE_RUST_VERSIONS=fallback cargo generate-lockfile 2>&1 | tail -n 1

export CARGO_TARGET_DIR="$ROOT/target/msrv/target"
crates=(-p zipkin-rs -p zipkin-runtime -p zipkin-rs-macros -p zipkin-tower -p zipkin-reqwest -p zipkin-tracing)
cargo "+$msrv" check --locked "${crates[@]}" --all-features
cargo "+$msrv" check --locked "${crates[@]}" --no-default-features
echo "scripts/msrv.sh: Rust $msrv builds them; done in $((SECONDS - started)) s"
