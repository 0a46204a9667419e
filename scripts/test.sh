#!/usr/bin/env bash
# Installs what steward needs, builds it, and runs every test (unit and end to end) with ctest.
set -euo pipefail
source "$(dirname "$0")/common.sh"
install_dependencies
build_steward
echo "== running tests"
cd "$STEWARD_BUILD"
ctest --output-on-failure -j "$(nproc)" --timeout 300
