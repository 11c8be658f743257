#!/usr/bin/env bash
# The local AWS emulator: moto's standalone server on a free loopback port.
#
#   infra/emulator.sh start   install moto into .venv if missing, start it, print the endpoint
#   infra/emulator.sh stop    stop the server this script started
#   infra/emulator.sh env     print `export AWS_…` lines for the running server
#
# moto comes from PyPI (infra/venv.sh installs it); nothing is fetched from anywhere else.
# State lives in .nextdue/ (or $EMULATOR_STATE: the benchmark runs an emulator of its own).
set -euo pipefail
cd "$(dirname "$0")/.."

STATE="${EMULATOR_STATE:-.nextdue}"
VENV=.venv

running() {
  [ -f "$STATE/emulator.pid" ] && kill -0 "$(cat "$STATE/emulator.pid")" 2>/dev/null
}

endpoint() {
  echo "http://127.0.0.1:$(cat "$STATE/emulator.port")"
}

start() {
  mkdir -p "$STATE"
  if running; then
    endpoint
    return
  fi
  infra/venv.sh
  port=$("$VENV/bin/python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  # moto's server, with its DynamoDB writes made atomic as DynamoDB's are (see the launcher).
  nohup "$VENV/bin/python" infra/moto_server.py -H 127.0.0.1 -p "$port" > "$STATE/emulator.log" 2>&1 &
  echo $! > "$STATE/emulator.pid"
  echo "$port" > "$STATE/emulator.port"
  for _ in $(seq 1 150); do
    if "$VENV/bin/python" -c "import urllib.request, sys; urllib.request.urlopen('http://127.0.0.1:$port/moto-api/', timeout=1)" 2>/dev/null; then
      endpoint
      return
    fi
    if ! running; then
      echo "emulator: the moto server exited; its log follows" >&2
      cat "$STATE/emulator.log" >&2
      exit 1
    fi
    sleep 0.2
  done
  echo "emulator: the moto server did not answer within 30 s; see $STATE/emulator.log" >&2
  exit 1
}

stop() {
  if running; then
    kill "$(cat "$STATE/emulator.pid")" 2>/dev/null || true
  fi
  rm -f "$STATE/emulator.pid" "$STATE/emulator.port"
}

print_env() {
  running || { echo "emulator: not running; start it with infra/emulator.sh start" >&2; exit 1; }
  cat <<ENV
export AWS_ENDPOINT_URL=$(endpoint)
export AWS_ACCESS_KEY_ID=testing
export AWS_SECRET_ACCESS_KEY=testing
export AWS_REGION=us-east-1
export AWS_DEFAULT_REGION=us-east-1
ENV
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  env) print_env ;;
  *) echo "usage: infra/emulator.sh start|stop|env" >&2; exit 2 ;;
esac
