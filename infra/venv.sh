#!/usr/bin/env bash
# Makes sure .venv holds the Python tools of infra/requirements.txt (the emulator, cfn-lint),
# installing them from PyPI when the list changed or the environment is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=.venv
STAMP="$VENV/.nextdue-requirements"
if [ -x "$VENV/bin/python" ] && [ -f "$STAMP" ] && cmp -s infra/requirements.txt "$STAMP"; then
  exit 0
fi
echo "venv: installing infra/requirements.txt into $VENV (from PyPI: measured 44 s here with an empty pip cache; a slow link takes minutes)" >&2
python3 -m venv "$VENV"
"$VENV/bin/pip" install --quiet --disable-pip-version-check -r infra/requirements.txt
cp infra/requirements.txt "$STAMP"
