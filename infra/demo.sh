#!/usr/bin/env bash
# The demo, as the README gives it: starts the local emulator (installing it from PyPI into
# .venv if needed), builds nextdue, runs the glue with the real handlers, writes a demo email
# worker and prints how it went: the item, its run records, and the mail the emulator received.
set -euo pipefail
cd "$(dirname "$0")/.."

infra/emulator.sh start > /dev/null
eval "$(infra/emulator.sh env)"
trap 'infra/emulator.sh stop' EXIT
echo "emulator: $AWS_ENDPOINT_URL"
cargo run --quiet --locked --bin nextdue -- demo
