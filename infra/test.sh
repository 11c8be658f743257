#!/usr/bin/env bash
# The whole test suite, as the README gives it and CI runs it: formatting, lints, then every
# unit, property, doc and integration test. Installs nothing the machine lacks beyond what
# cargo fetches from crates.io.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== cargo fmt --check"
cargo fmt --check
echo "== cargo clippy --all-targets -- -D warnings"
cargo clippy --all-targets --locked -- -D warnings
echo "== cargo test"
cargo test --locked
