#!/bin/sh
# The native half of `npm run lint`: clang-format (.clang-format: Google style, 100 columns), then
# a syntax check of every source with __linux__ undefined, so that the fallbacks other platforms
# compile (-ENOTSUP for Linux-only calls) build with the same -Wall -Wextra -Werror. It uses
# Linux's headers, so it proves the guards and fallbacks, not another platform's headers.
set -eu
cd "$(dirname "$0")/.."
clang-format --dry-run -Werror src-native/*.cc src-native/*.h test/support/native/*.cc

include=$(node -p "require('node-addon-api').include_dir")
headers=$(node -p "require('path').resolve(process.execPath, '../../include/node')")
[ -e "$headers/node_api.h" ] || headers=${npm_config_nodedir:-/usr}/include/node
for source in src-native/*.cc; do
  # The prebuild's glibc shim is Linux-only by design (binding.gyp links it there alone).
  [ "$source" = src-native/glibc_floor.cc ] && continue
  c++ -std=c++17 -fsyntax-only -Wall -Wextra -Werror -U__linux__ -U__linux -Ulinux -U__gnu_linux__ \
    -DNAPI_VERSION=8 -DNAPI_DISABLE_CPP_EXCEPTIONS -I"$headers" -I"$include" "$source"
done
