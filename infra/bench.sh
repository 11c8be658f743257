#!/usr/bin/env bash
# The benchmark, as the README gives it: builds nextdue (release), starts an emulator of its
# own (installing moto from PyPI into .venv if needed), and runs `nextdue bench` on it.
#
#   infra/bench.sh                       burst of 1,000, 20/s for 30 s, 200 ETAs; a table
#   infra/bench.sh --burst 200 --json    any `nextdue bench` option
#   infra/bench.sh --soak 2000 --minutes 10   the soak: rate(1 minute) workers, exactly once
set -euo pipefail
cd "$(dirname "$0")/.."

cargo build --release --locked --bin nextdue
export EMULATOR_STATE=.nextdue/bench
infra/emulator.sh start > /dev/null
trap 'infra/emulator.sh stop' EXIT
eval "$(infra/emulator.sh env)"
echo "emulator: $AWS_ENDPOINT_URL (its own, for the benchmark)" >&2
target/release/nextdue bench "$@"
