#!/usr/bin/env bash
# The demo: a nats-server, two nodes (central and ship1), one REQCliCommand from central to ship1,
# and the reply that comes back to central, printed; then one more through steward-ctl. Everything
# runs in a temporary folder and is stopped at the end.
set -euo pipefail
source "$(dirname "$0")/common.sh"
install_dependencies
build_steward

work="$(mktemp -d /tmp/steward-demo.XXXXXX)"
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

echo "== starting nats-server on a free loopback port"
nats_server="$(command -v nats-server || echo /usr/sbin/nats-server)"
"$nats_server" -a 127.0.0.1 -p -1 > "$work/nats.log" 2>&1 &
pids+=($!)
port=""
for _ in $(seq 100); do
  port="$(sed -n 's/.*Listening for client connections on 127.0.0.1:\([0-9]*\).*/\1/p' "$work/nats.log")"
  [ -n "$port" ] && break
  sleep 0.1
done
[ -n "$port" ] || { echo "nats-server did not start"; cat "$work/nats.log"; exit 1; }
echo "   broker at 127.0.0.1:$port"

start_node() {  # name, extra flags...
  local name="$1"; shift
  mkdir -p "$work/$name"
  (cd "$work/$name" && exec "$STEWARD_BUILD/steward" --nodeName="$name" \
      --centralNodeName=central --brokerAddress="127.0.0.1:$port" \
      --trustedKeysFolder="$work/trusted-keys" "$@" > steward.log 2>&1) &
  pids+=($!)
  for _ in $(seq 100); do
    if grep -q "node $name running" "$work/$name/steward.log" 2>/dev/null; then
      # Every message is signed: the nodes take messages only from keys in trusted-keys/.
      cp "$work/$name/var/lib/keys/node.pub" "$work/trusted-keys/$name.pub"
      return 0
    fi
    sleep 0.1
  done
  echo "node $name did not start"; cat "$work/$name/steward.log"; exit 1
}

echo "== starting central and ship1"
mkdir -p "$work/trusted-keys"
start_node central
start_node ship1 --startSubREQCliCommand=central --startPubREQHello=5

cat > "$work/message.json" <<'JSON'
[
{
"directory":"cli_command__result",
"fileName": "some-file-name.result",
"toNode": "ship1",
"data": ["bash","-c","echo \"hello from $(hostname), uptime: $(uptime -p)\"; ls /"],
"method":"REQCliCommand",
"replyMethod":"REQToFileAppend",
"ACKTimeout":5,
"retries":3,
"replyACKTimeout":5,
"replyRetries":3,
"methodTimeout": 10
}
]
JSON

echo "== writing a REQCliCommand for ship1 into central's socket"
cat "$work/message.json"
echo "-- central answered:"
nc -U "$work/central/tmp/steward.sock" < "$work/message.json"

reply="$work/central/data/cli_command__result/ship1/some-file-name.result"
for _ in $(seq 200); do
  [ -s "$reply" ] && break
  sleep 0.1
done
[ -s "$reply" ] || { echo "no reply arrived"; tail -20 "$work"/*/steward.log; exit 1; }
sleep 0.2
echo "== the reply file at central: ${reply#$work/}"
cat "$reply"
echo "== the same through steward-ctl at central: steward-ctl run ship1 -- uname -sr"
"$STEWARD_BUILD/steward-ctl" run ship1 --config-folder "$work/central/etc" --timeout 20 -- uname -sr
echo "== done; stopping everything"
