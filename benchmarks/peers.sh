#!/usr/bin/env bash
# The peer environment for benchmarks/ and tests/peers/: torch-based tools harmoniq is compared
# with (never dependencies of harmoniq). Usage: bash benchmarks/peers.sh [VENV]  (default /tmp/bench)
set -euo pipefail
venv="${1:-/tmp/bench}"
python3 -m venv "$venv"
"$venv/bin/pip" install -q --upgrade pip
# torch first, from the wheel on this machine's disk (a plain "torch" would download a CUDA build);
# mrpro then asks for a newer torch, which pip takes from the same disk (2.14.1 on 2026-12-04).
"$venv/bin/pip" install -q torch==2.13.0
"$venv/bin/pip" install -q mrzerocore mrpro qmrpy pytest
"$venv/bin/pip" install -q -e "$(dirname "$0")/.."  # harmoniq itself writes the files the peers read
"$venv/bin/python" -c "import torch, mrpro, qmrpy, MRzeroCore; print('peers:', torch.__version__, mrpro.__version__)"
