#!/usr/bin/env bash
# Creates the project's Python environment (.venv at the repository root) with what the
# Python interop tests need: numpy and safetensors. Idempotent; prints the interpreter's path.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
venv="$root/.venv"
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv" >&2
fi
if ! "$venv/bin/python" -c "import numpy, safetensors" >/dev/null 2>&1; then
  "$venv/bin/python" -m pip install -q --disable-pip-version-check numpy safetensors >&2
fi
echo "$venv/bin/python"
