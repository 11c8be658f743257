#!/usr/bin/env bash
# The whole test suite, as the README gives it and CI runs it: formatting, lints, the template
# check, then every unit, property, doc and integration test. The integration tests talk to the local emulator
# (moto), which this script installs into .venv from PyPI if needed, starts on a free loopback
# port, and stops again if it started it.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== cargo fmt --check"
cargo fmt --all --check
echo "== cargo clippy --workspace --all-targets -- -D warnings (nextdue and examples/reports)"
cargo clippy --workspace --all-targets --features reports/dev --locked -- -D warnings
echo "== the library and the Lambda binaries without the dev feature (nextdue's and the example's)"
cargo clippy --no-default-features --lib --bins --locked -- -D warnings
cargo clippy -p reports --bins --locked -- -D warnings

echo "== template.yaml (cfn-lint; Fn::ForEach and the SAM transform for two queue sets, cfn-lint again; sam validate --lint)"
infra/venv.sh
# cargo-lambda (for the test that runs the Lambda binaries under `cargo lambda watch`) lives in .venv.
export PATH="$PWD/.venv/bin:$PATH"
.venv/bin/python infra/check_template.py template.yaml
SAM_CLI_TELEMETRY=0 .venv/bin/sam validate --lint --region us-east-1 --template template.yaml

echo "== emulator"
if infra/emulator.sh env > /dev/null 2>&1; then
  echo "reusing the running emulator"
else
  infra/emulator.sh start
  trap 'infra/emulator.sh stop' EXIT
fi
eval "$(infra/emulator.sh env)"

echo "== cargo test (nextdue and examples/reports)"
cargo test --workspace --features reports/dev --locked
