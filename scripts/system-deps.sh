#!/usr/bin/env bash
# The system packages the tests use, in one list (Debian 12 names, as in the images). `npm test`
# and .ci/run run this first:
#
#   scripts/system-deps.sh [GROUP...]          install what is missing (root with apt), else fail
#   scripts/system-deps.sh --check [GROUP...]  only say what is missing (exit 1 if anything is)
#   scripts/system-deps.sh --list [GROUP...]   print the package names, one per line
#
# GROUP: `test` (the default: what `npm test` needs) or `swift` (the S3 server .ci/run starts with
# scripts/start-swift.sh; without it the S3 tests start s3rver, an npm package, instead).
#
# Run as root on a machine with apt-get, missing packages are installed (apt-get update, then
# apt-get install --no-install-recommends), as `playwright install --with-deps` does. Otherwise it
# fails at once and prints the one command that installs them. HARDEN_SYSTEM_DEPS=skip skips the
# check, for machines without dpkg that provide these some other way (HARDEN_CHROMIUM names a
# Chromium elsewhere).
set -euo pipefail

# `test`: what the test suite uses.
TEST_PACKAGES=(
  # Chromium, driven by playwright-core: the report and dashboard tests open pages in it
  # (test/helpers/chromium.ts; /usr/bin/chromium unless HARDEN_CHROMIUM says otherwise).
  chromium
  # Mesa's EGL and GLES on llvmpipe: the webgpu tests run Dawn through its OpenGL ES backend
  # (HARDEN_WEBGPU_SOFTWARE=1) on machines without a GPU.
  libegl1 libegl-mesa0 libgles2 libgl1-mesa-dri
  # The Fashion-MNIST IDX files in /usr/share/datasets/fashion-mnist (libs/data/idx.spec.ts).
  dataset-fashion-mnist
  # oneDNN's headers and library for the native engine's addon, and the compiler node-gyp builds it
  # with (better-sqlite3 too, where no prebuilt binary fits). The test command builds the addon when
  # it is missing; with CI=true the native tests fail instead of skipping without it.
  libdnnl-dev g++ make python3
)
# `swift`: OpenStack Swift with its S3 API and memcached, started by scripts/start-swift.sh.
SWIFT_PACKAGES=(swift swift-proxy swift-account swift-container swift-object memcached)

log() { printf 'system-deps: %s\n' "$*" >&2; }

mode=install
case ${1:-} in
  --check) mode=check; shift ;;
  --list) mode=list; shift ;;
  -h | --help) sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
esac
[ $# -gt 0 ] || set -- test
packages=()
for group in "$@"; do
  case $group in
    test) packages+=("${TEST_PACKAGES[@]}") ;;
    swift) packages+=("${SWIFT_PACKAGES[@]}") ;;
    *) log "unknown group \"$group\" (expected test or swift)"; exit 2 ;;
  esac
done

if [ "$mode" = list ]; then
  printf '%s\n' "${packages[@]}"
  exit 0
fi
if [ "${HARDEN_SYSTEM_DEPS:-}" = skip ]; then
  exit 0
fi
if ! command -v dpkg-query >/dev/null; then
  log "this machine has no dpkg, so the test packages cannot be checked: install the equivalents of"
  log "  ${packages[*]}"
  log "and run again with HARDEN_SYSTEM_DEPS=skip"
  exit 1
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$mode" = check ] || [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null; then
  sudo=
  [ "$(id -u)" -eq 0 ] || sudo='sudo '
  command_line="${sudo}apt-get update && ${sudo}apt-get install -y --no-install-recommends ${missing[*]}"
  log "missing system packages: ${missing[*]}"
  log "install them with:"
  log "  $command_line"
  exit 1
fi

log "installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt_log=$(mktemp -t harden-system-deps.XXXXXX)
# Some packages' maintainer scripts try to start services (memcached, Swift); in a container without
# an init system that fails harmlessly, so their output goes to a log shown only on failure.
if ! { apt-get update -qq && apt-get install -y -qq --no-install-recommends "${missing[@]}"; } >"$apt_log" 2>&1; then
  tail -n 30 "$apt_log" >&2
  log "apt-get could not install ${missing[*]} (full output in $apt_log)"
  exit 1
fi
rm -f "$apt_log"
