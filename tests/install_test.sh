#!/usr/bin/env bash
# Installs the build into a temporary prefix and builds two small programs
# against it: one through pkg-config, one through find_package(oclnn).
set -euo pipefail
build=$1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cmake --install "$build" --prefix "$tmp/prefix" >/dev/null
cat > "$tmp/main.c" <<'C'
#include <oclnn/oclnn.h>
#include <stdio.h>
int main(void)
{
    oclnn_device_info *devs;
    int n;
    if (oclnn_devices_list(&devs, &n)) return puts(oclnn_last_error()), 1;
    printf("%d device(s), oclnn %s\n", n, OCLNN_VERSION_STRING);
    return 0;
}
C
pc=$(find "$tmp/prefix" -name oclnn.pc)
cc -std=c11 "$tmp/main.c" $(PKG_CONFIG_PATH=$(dirname "$pc") pkg-config --cflags --libs oclnn) \
   -Wl,-rpath,"$(dirname "$(dirname "$pc")")" -o "$tmp/with_pkgconfig"
"$tmp/with_pkgconfig"
mkdir "$tmp/consumer"
cat > "$tmp/consumer/CMakeLists.txt" <<'CM'
cmake_minimum_required(VERSION 3.18)
project(consumer C)
find_package(oclnn REQUIRED)
add_executable(consumer ../main.c)
target_link_libraries(consumer oclnn::oclnn)
CM
cmake -S "$tmp/consumer" -B "$tmp/consumer/build" -DCMAKE_PREFIX_PATH="$tmp/prefix" >/dev/null
cmake --build "$tmp/consumer/build" >/dev/null
"$tmp/consumer/build/consumer"
"$tmp/prefix/bin/oclnn" --version
echo "install test passed"
