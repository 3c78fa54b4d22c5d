#!/usr/bin/env bash
# Install everything the tests need on a fresh Debian machine, then run the whole suite.
# Usage: bash scripts/test.sh [pytest args...]
set -euo pipefail
cd "$(dirname "$0")/.."

# Reference tools the tests compare against (ISMRMRD reference writer, BART) and a headless browser.
need_apt=()
command -v ismrmrd_info >/dev/null 2>&1 || need_apt+=(ismrmrd-tools)
command -v bart >/dev/null 2>&1 || need_apt+=(bart)
command -v chromium >/dev/null 2>&1 || need_apt+=(chromium)  # renders the comparison report in a test
# building the sycomore test dependency (no wheel for recent Python versions on PyPI)
command -v cmake >/dev/null 2>&1 || need_apt+=(cmake)
command -v g++ >/dev/null 2>&1 || need_apt+=(g++)
[ -f /usr/include/xsimd/xsimd.hpp ] || need_apt+=(libxsimd-dev)
[ -d /usr/include/pybind11 ] || need_apt+=(pybind11-dev)
if [ ${#need_apt[@]} -gt 0 ]; then
    SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

python3 -m venv .venv
.venv/bin/pip install -q --upgrade pip
.venv/bin/pip install -q -e ".[test]"
exec .venv/bin/pytest -n 2 "$@"
