#!/bin/sh
# Builds the N-API prebuild shipped in the tarball: prebuilds/linux-x64/ for this machine, or with
# "arm64", prebuilds/linux-arm64/ cross-compiled with Debian's aarch64 toolchain
# (apt-get install g++-aarch64-linux-gnu). Then checks it with readelf (check-prebuild.js) and tests
# its glibc shim (test-glibc-floor.sh; arm64 under qemu-user when installed).
set -eu
cd "$(dirname "$0")/.."
# Node-API needs no per-version build; the target only picks the headers, pinned to the oldest
# Node in "engines". Tagged glibc, so that musl systems build from source instead.
flags="--napi --strip --tag-libc --target=20.19.0"
# Links src-native/glibc_floor.cc, which keeps the glibc floor at 2.28 (binding.gyp).
export GYP_DEFINES="solely_prebuild=1"

case "${1:-host}" in
  host)
    # shellcheck disable=SC2086
    prebuildify $flags
    arch=$(node -p process.arch)
    node scripts/check-prebuild.js "linux-$arch"
    if [ "$arch" = x64 ]; then sh scripts/test-glibc-floor.sh x64; fi
    ;;
  arm64)
    triple=aarch64-linux-gnu
    if ! command -v "$triple-g++" >/dev/null; then
      echo "prebuildify arm64 needs $triple-g++: apt-get install g++-$triple" >&2
      exit 1
    fi
    # A scratch copy of the native sources, so that arm64 objects never land in the host's build/.
    scratch=$(mktemp -d)
    trap 'rm -rf "$scratch"' EXIT
    cp -r package.json binding.gyp src-native "$scratch"/
    ln -s "$PWD/node_modules" "$scratch/node_modules"
    # shellcheck disable=SC2086
    CC=$triple-gcc CXX=$triple-g++ LINK=$triple-g++ AR=$triple-ar \
      prebuildify $flags --cwd "$scratch" --out "$PWD" --arch arm64 --strip-bin "$triple-strip"
    node scripts/check-prebuild.js linux-arm64
    sh scripts/test-glibc-floor.sh arm64
    ;;
  *)
    echo "usage: scripts/prebuildify.sh [host|arm64]" >&2
    exit 2
    ;;
esac
