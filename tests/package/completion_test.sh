#!/usr/bin/env bash
# The bash completion of steward-ctl, sourced into a bash with a stand-in steward-ctl on PATH that
# answers `nodes --json` as central would. Usage: completion_test.sh COMPLETION_FILE
set -euo pipefail
work="$(mktemp -d /tmp/stw-completion-XXXXXX)"
trap 'rm -rf "$work"' EXIT
cat >"$work/steward-ctl" <<'STANDIN'
#!/usr/bin/env bash
echo "$*" >>"$(dirname "$0")/calls"
echo '{"node":"central","nodes":[{"node":"ship1","key":"allowed"},{"node":"ship2","key":"allowed"},{"node":"boat1","key":"pending"}]}'
STANDIN
chmod +x "$work/steward-ctl"
export PATH="$work:$PATH"
# shellcheck source=/dev/null
source "$1"
fail() { echo "FAIL: $*" >&2; exit 1; }
complete_line() {  # words…: completes the last one
  COMP_WORDS=("$@")
  COMP_CWORD=$(($# - 1))
  COMPREPLY=()
  _steward_ctl
  echo "${COMPREPLY[*]}"
}
[[ "$(complete_line steward-ctl ru)" == "run" ]] || fail "a command: $(complete_line steward-ctl ru)"
[[ "$(complete_line steward-ctl --json no)" == "nodes" ]] || fail "a command after an option"
[[ "$(complete_line steward-ctl run sh)" == "ship1 ship2" ]] || fail "node names: $(complete_line steward-ctl run sh)"
[[ "$(complete_line steward-ctl --config-folder /srv/etc ps "")" == "ship1 ship2 boat1" ]] || fail "every node"
grep -q -- "--config-folder /srv/etc nodes --json" "$work/calls" || fail "the config folder is passed on: $(cat "$work/calls")"
[[ "$(complete_line steward-ctl run --exit)" == "--exit-code" ]] || fail "run's options"
[[ "$(complete_line steward-ctl keys a)" == "allow" ]] || fail "keys subcommands"
[[ "$(complete_line steward-ctl run ship1 -- up)" == "" ]] || fail "the remote program is not completed"
[[ "$(complete_line steward-ctl start ship1 --al)" == "--all --allowed" ]] || fail "start's options: $(complete_line steward-ctl start ship1 --al)"
echo "completion: ok"
