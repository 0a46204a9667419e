# Shared by the scripts: install the Debian packages steward needs and build it.
# Sourced, not run.

STEWARD_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
STEWARD_BUILD="${STEWARD_BUILD:-$STEWARD_ROOT/build}"

STEWARD_PACKAGES=(
  build-essential cmake pkg-config libnats-dev nats-server rapidjson-dev libboost-dev
  libboost-log-dev libboost-filesystem-dev libleveldb-dev libsnappy-dev libcxxopts-dev
  libgtest-dev libgmock-dev libcurl4-openssl-dev libcpp-httplib-dev libtomlplusplus-dev prometheus-cpp-dev
  libsodium-dev libssl-dev netcat-openbsd procps openssl
  dpkg-dev rpm systemd clang libclang-rt-14-dev help2man
)
# Only the tests need these: the fleet view is driven in a real headless Chromium, and the
# package test runs lintian.
STEWARD_TEST_PACKAGES=(chromium chromium-driver lintian)

# Runs a command as root: directly when we are root, else through sudo.
as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

install_dependencies() {  # more packages...
  echo "== installing Debian packages"
  as_root apt-get update -q
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
    "${STEWARD_PACKAGES[@]}" "$@"
}

build_steward() {  # extra cmake arguments...
  echo "== building in $STEWARD_BUILD"
  # Plugins must not be writable by group or others: the daemon refuses them.
  umask 022
  cmake -S "$STEWARD_ROOT" -B "$STEWARD_BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@"
  cmake --build "$STEWARD_BUILD" -j "$(nproc)"
}
