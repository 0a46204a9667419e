#!/usr/bin/env bash
# Fails when a lower layer of core/ includes a higher one, when a plugin or the SDK includes the
# core, or when steward-ctl includes more of the core than its utilities. The layers, lowest first
# (a layer may include its own folder and any layer of a lower rank):
#
#   0 util                       results, clocks, bounded JSON, logging
#   1 message net transport store
#   2 plugin config security
#   3 observe
#   4 process
#   5 input
#
# Usage: check_layers.sh <source root>
set -euo pipefail
root="$1"
declare -A rank=([util]=0 [message]=1 [net]=1 [transport]=1 [store]=1 [plugin]=2 [config]=2
                 [security]=2 [observe]=3 [process]=4 [input]=5)
failures=0
fail() { echo "$1"; failures=$((failures + 1)); }

for dir in "$root"/core/*/; do
  layer="$(basename "$dir")"
  [[ -n "${rank[$layer]+x}" ]] || { fail "core/$layer: a folder the layer table does not know (add it)"; continue; }
  while IFS= read -r hit; do
    file="${hit%%:*}"
    included="$(sed -E 's|.*#include "core/([a-z_]+)/.*|\1|' <<<"$hit")"
    [[ "$included" == "$layer" ]] && continue
    if [[ -z "${rank[$included]+x}" ]]; then
      fail "${file#"$root"/}: includes core/$included, a folder the layer table does not know"
    elif (( rank[$included] >= rank[$layer] )); then
      fail "${file#"$root"/}: layer $layer (${rank[$layer]}) includes core/$included (${rank[$included]})"
    fi
  done < <(grep -Ho '#include "core/[a-z_]*/[^"]*"' "$dir"* || true)
done

while IFS= read -r hit; do fail "$hit: plugins and the SDK are built against sdk/ only"; done \
  < <(grep -rHo '#include "core/[^"]*"' "$root"/plugins "$root"/sdk || true)
while IFS= read -r hit; do fail "$hit: steward-ctl may use core/util only"; done \
  < <(grep -rHo '#include "core/[^"]*"' "$root"/ctl | grep -v '"core/util/' || true)

if (( failures > 0 )); then
  echo "$failures include(s) cross the layers the wrong way"
  exit 1
fi
echo "every include goes down the layers"
