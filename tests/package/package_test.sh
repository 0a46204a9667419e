#!/usr/bin/env bash
# Builds the .deb and .rpm packages from a build folder, checks what is in them, verifies the
# systemd unit, then extracts the .deb and runs its steward (central and ship1) and steward-ctl
# against a real nats-server. Usage: package_test.sh BUILD_DIR NATS_SERVER
set -euo pipefail
build="$1"
nats_server="$2"
work="$(mktemp -d /tmp/stw-pkg-XXXXXX)"
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
# Lists are read into variables before grep -q looks at them: with pipefail, `cmd | grep -q`
# fails when grep stops early and cmd dies of SIGPIPE.
# Polls a condition every 0.2 s for at most $1 seconds.
wait_for() {
  local seconds="$1"; shift
  for _ in $(seq $((seconds * 5))); do
    if "$@"; then return 0; fi
    sleep 0.2
  done
  return 1
}

echo "== cpack"
cpack --config "$build/CPackConfig.cmake" -B "$work/out" >"$work/cpack.log" 2>&1 || { cat "$work/cpack.log"; fail "cpack"; }
deb="$(ls "$work"/out/steward_*_amd64.deb)"
devdeb="$(ls "$work"/out/steward-dev_*_all.deb)"
rpm="$(ls "$work"/out/steward-[0-9]*.rpm)"
devrpm="$(ls "$work"/out/steward-devel-*.rpm)"

echo "== contents"
expected=(
  /usr/bin/steward /usr/bin/steward-ctl /usr/lib/systemd/system/steward.service
  /usr/lib/sysusers.d/steward.conf /usr/share/steward/config.toml
  /usr/share/bash-completion/completions/steward-ctl
)
# Manual pages come with help2man (scripts/common.sh installs it).
if command -v help2man >/dev/null; then
  expected+=(/usr/share/man/man1/steward.1.gz /usr/share/man/man1/steward-ctl.1.gz)
fi
for plugin in cli file console hello errorlog ping httpget tail; do
  expected+=("/usr/lib/steward/plugins/abi2/$plugin.so")
done
deb_files="$(dpkg-deb -c "$deb" | awk '{print $6}' | sed 's|^\.||')"
rpm_files="$(rpm -qlp "$rpm")"
for f in "${expected[@]}"; do
  grep -qx "$f" <<<"$deb_files" || fail ".deb lacks $f"
  grep -qx "$f" <<<"$rpm_files" || fail ".rpm lacks $f"
done
if grep -q "^/usr/include\|\.build-id" <<<"$deb_files$rpm_files"; then
  fail "the runtime packages hold SDK headers or .build-id links"
fi
devdeb_files="$(dpkg-deb -c "$devdeb" | awk '{print $6}' | sed 's|^\.||')"
devrpm_files="$(rpm -qlp "$devrpm")"
for f in /usr/include/steward/plugin.hpp /usr/include/steward/plugin_abi.h \
         /usr/lib/cmake/steward-sdk/steward-sdkConfig.cmake; do
  grep -qx "$f" <<<"$devdeb_files" || fail "steward-dev lacks $f"
  grep -qx "$f" <<<"$devrpm_files" || fail "steward-devel lacks $f"
done
grep -q "libnats" <<<"$(dpkg-deb -f "$deb" Depends)" || fail ".deb does not depend on libnats"
dpkg-deb -I "$deb" postinst >/dev/null || fail ".deb has no postinst"
grep -q "systemd-sysusers steward.conf" <<<"$(rpm -qp --scripts "$rpm")" || fail ".rpm has no %post"
grep -q "libnats" <<<"$(rpm -qp --requires "$rpm")" || fail ".rpm does not require libnats"

sanitized=no
grep -q '^STEWARD_SANITIZE:STRING=.' "$build/CMakeCache.txt" && sanitized=yes
echo "== extract and inspect"
root="$work/root"
dpkg-deb -x "$deb" "$root"
for elf in "$root/usr/bin/steward" "$root/usr/bin/steward-ctl" "$root/usr/lib/steward/plugins/abi2/cli.so"; do
  if grep -q "\.symtab" <<<"$(readelf -S "$elf")"; then fail "$elf is not stripped"; fi
  # Hardened as Debian builds packages: full RELRO (BIND_NOW), the stack protector, fortified libc
  # calls in the daemon (readelf -W: long symbol names are cut otherwise). A sanitizer build has
  # its own checks instead.
  if [ "$sanitized" = yes ]; then continue; fi
  dynamic="$(readelf -d "$elf")"
  grep -q "BIND_NOW\|FLAGS.*NOW" <<<"$dynamic" || fail "$elf is not linked with -z now"
  symbols="$(readelf -W --dyn-syms "$elf")"
  grep -q "__stack_chk_fail@" <<<"$symbols" || fail "$elf is built without the stack protector"
  [ "$(basename "$elf")" != steward ] || grep -q "__[a-z]*_chk@" <<<"$symbols" || fail "$elf calls no fortified function"
done
unit="$work/unit/steward.service"
mkdir -p "$work/unit"
# verify needs ExecStart's binary to exist: point it at the extracted one.
sed "s|^ExecStart=/usr/bin/steward|ExecStart=$root/usr/bin/steward|" \
  "$root/usr/lib/systemd/system/steward.service" >"$unit"
verify="$(systemd-analyze verify "$unit" 2>&1)" || fail "systemd-analyze verify: $verify"
[ -z "$verify" ] || fail "systemd-analyze verify warns: $verify"
grep -qx "Type=notify" "$unit" || fail "the unit is not Type=notify"
grep -qx "Restart=on-failure" "$unit" || fail "the unit does not restart on failure"
grep -qx "User=steward" "$unit" || fail "the unit does not run as steward"
grep -qx "StateDirectory=steward" "$unit" || fail "the unit keeps no state in /var/lib/steward"
# The hardened drop-in the package offers (README: Installing the packages) rates the unit OK.
exposure() {  # unit folder → the overall exposure number
  systemd-analyze security --offline=yes --root="$1" steward.service 2>/dev/null |
    sed -n 's/.*Overall exposure level for steward.service: \([0-9.]*\).*/\1/p'
}
analysis="$work/analysis"
mkdir -p "$analysis/etc/systemd/system/steward.service.d"
cp "$unit" "$analysis/etc/systemd/system/steward.service"
plain="$(exposure "$analysis")"
cp "$root/usr/share/doc/steward/examples/hardened.conf" "$analysis/etc/systemd/system/steward.service.d/"
hardened="$(exposure "$analysis")"
[ -n "$plain" ] && [ -n "$hardened" ] || fail "systemd-analyze security gave no rating"
awk -v h="$hardened" 'BEGIN { exit !(h < 3) }' || fail "the hardened drop-in rates $hardened, not below 3"
echo "exposure: $plain without the drop-in, $hardened with it"

if command -v lintian >/dev/null; then
  echo "== lintian"
  # Errors fail the test; warnings are shown.
  lintian_out="$(lintian --fail-on error "$deb" "$devdeb" 2>&1)" \
    || fail "lintian reports errors:
$lintian_out"
  [ -z "$lintian_out" ] || echo "$lintian_out"
fi

echo "== run the extracted daemon and steward-ctl"
"$nats_server" -a 127.0.0.1 -p -1 -l "$work/nats.log" &
pids+=($!)
wait_for 20 grep -q "Listening for client connections on" "$work/nats.log" || fail "nats-server did not start"
port="$(sed -n 's/.*Listening for client connections on 127.0.0.1:\([0-9]*\).*/\1/p' "$work/nats.log" | head -1)"
start_node() {  # name [flags...]
  local name="$1"; shift
  local dir="$work/$name"
  mkdir -p "$dir/etc"
  # The package's default config, as postinst would install it, with this test's paths.
  sed -e "s/@NODE_NAME@/$name/" -e "s|'127.0.0.1:4222'|'127.0.0.1:$port'|" -e "s|/run/steward|$dir/run|" \
      -e "s|/var/lib/steward|$dir/lib|g" -e "s|/etc/steward/trusted-keys|$work/trusted-keys|" \
      "$root/usr/share/steward/config.toml" >"$dir/etc/config.toml"
  (cd "$dir" && CONFIG_FOLDER="$dir/etc" exec "$root/usr/bin/steward" "$@" >"$dir/log" 2>&1) &
  pids+=($!)
  wait_for 20 grep -q "running; central is" "$dir/log" || { cat "$dir/log"; fail "$name did not start"; }
  # Trust, as an operator provisions it: each node's public key where the others look.
  cp "$dir/lib/database/keys/node.pub" "$work/trusted-keys/$name.pub"
}
mkdir -p "$work/trusted-keys"
start_node central
start_node ship1 --startSubREQCliCommand=central
ctl="$root/usr/bin/steward-ctl"
out="$("$ctl" run ship1 --config-folder "$work/central/etc" --timeout 20 -- echo hello from the package)" \
  || fail "steward-ctl run exited $?"
[ "$out" = "hello from the package" ] || fail "steward-ctl run printed: $out"
ps_out="$("$ctl" ps ship1 --config-folder "$work/central/etc")" || fail "steward-ctl ps exited $?"
grep -q "REQCliCommand" <<<"$ps_out" || fail "ps shows no REQCliCommand: $ps_out"
grep -q "$root/usr/lib/steward/plugins/abi2/cli.so" "$work/ship1/log" \
  || fail "ship1 did not load its plugins from the ABI 2 folder"
set +e
"$ctl" run ship1 --config-folder "$work/central/etc" --timeout 20 -- false 2>/dev/null
rc=$?
set -e
[ "$rc" -eq 1 ] || fail "a failing command gave exit status $rc, not 1"
# The packaged config says writeConfig = false: the daemon leaves the file as it was written.
sed -e "s/@NODE_NAME@/ship1/" -e "s|'127.0.0.1:4222'|'127.0.0.1:$port'|" -e "s|/run/steward|$work/ship1/run|" \
    -e "s|/var/lib/steward|$work/ship1/lib|g" -e "s|/etc/steward/trusted-keys|$work/trusted-keys|" \
    "$root/usr/share/steward/config.toml" | cmp -s - "$work/ship1/etc/config.toml" \
  || fail "the daemon rewrote its config file"

# Install and purge for real, as root (or through sudo without a password) on a machine where
# steward is not installed already (CI). Elsewhere it is said and skipped.
as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo -n "$@"; fi; }
if ! as_root true 2>/dev/null; then
  echo "== install and purge: skipped (neither root nor sudo without a password)"
elif dpkg -s steward >/dev/null 2>&1 || [ -e /usr/bin/steward ]; then
  echo "== install and purge: skipped (steward is installed on this machine)"
else
  echo "== install and purge"
  as_root dpkg -i "$deb" >"$work/dpkg.log" 2>&1 || { cat "$work/dpkg.log"; fail "dpkg -i"; }
  owner() { as_root stat -c '%U:%G %a' "$1"; }
  [ "$(owner /etc/steward)" = "root:steward 750" ] || fail "/etc/steward is $(owner /etc/steward)"
  [ "$(owner /etc/steward/config.toml)" = "root:steward 640" ] || fail "config.toml is $(owner /etc/steward/config.toml)"
  as_root grep -qx "writeConfig = false" /etc/steward/config.toml || fail "the installed config lets the daemon rewrite it"
  getent passwd steward >/dev/null || fail "no steward user"
  as_root test -d /var/lib/steward || fail "no /var/lib/steward"
  # What the daemon makes at run time, private key included, must go with the purge too.
  as_root sh -c 'mkdir -p /var/lib/steward/database/keys && echo secret >/var/lib/steward/database/keys/node.key'
  installed="$(dpkg -L steward)"
  as_root dpkg --purge steward >"$work/dpkg.log" 2>&1 || { cat "$work/dpkg.log"; fail "dpkg --purge"; }
  for left in /etc/steward /var/lib/steward /usr/bin/steward /usr/bin/steward-ctl /usr/lib/steward \
              /usr/share/doc/steward /usr/share/steward /etc/systemd/system/multi-user.target.wants/steward.service; do
    ! as_root test -e "$left" || fail "$left is left after purge"
  done
  while read -r f; do
    [ -d "$f" ] || [ ! -e "$f" ] || fail "$f is left after purge"
  done <<<"$installed"
  ! dpkg -s steward >/dev/null 2>&1 || fail "dpkg still knows steward after purge"
fi
echo "PASS: packages built, checked and run ($(basename "$deb"), $(basename "$rpm"))"
