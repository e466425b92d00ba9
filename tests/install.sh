#!/bin/sh
# install.sh - installs the build into a scratch DESTDIR and builds a small
# program against it three ways: pkg-config, CMake's find_package (shared
# and static), checking each runs.  Also checks that the shared library
# exports only ktask_* symbols and carries a versioned SONAME.
#
#   usage: install.sh BUILD_DIR SOURCE_DIR
set -eu
build=$1
src=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
prefix=/usr/local
root="$tmp/root"

DESTDIR="$root" cmake --install "$build" --prefix "$prefix" >/dev/null
lib=$(find "$root" -name 'libktask.so.*.*' | head -n 1)
[ -n "$lib" ] || { echo "no libktask.so installed"; exit 1; }
for f in include/ktask.h share/man/man3/ktask.3 share/man/man3/ktask_run.3; do
	[ -e "$root$prefix/$f" ] || { echo "missing $f"; exit 1; }
done

soname=$(objdump -p "$lib" | awk '/SONAME/ {print $2}')
[ "$soname" = "libktask.so.0" ] || { echo "SONAME is '$soname'"; exit 1; }
others=$(nm -D --defined-only "$lib" | awk '$2 ~ /[TDBRW]/ {print $3}' |
	sed 's/@.*//' | grep -v '^ktask_' || true)
[ -z "$others" ] || { echo "exports beyond ktask_*: $others"; exit 1; }

libdir=$(dirname "$lib")
pcdir=$(find "$root" -name ktask.pc -exec dirname {} \;)
# pkg-config: relocate the prefix into the scratch root.
PKG_CONFIG_PATH="$pcdir" cc -o "$tmp/pc" "$src/tests/consumer/main.c" \
	$(PKG_CONFIG_PATH="$pcdir" pkg-config --define-variable=prefix="$root$prefix" \
		--cflags --libs ktask)
LD_LIBRARY_PATH="$libdir" "$tmp/pc" >/dev/null

cmake -S "$src/tests/consumer" -B "$tmp/cm" -DCMAKE_PREFIX_PATH="$root$prefix" >/dev/null
cmake --build "$tmp/cm" >/dev/null
LD_LIBRARY_PATH="$libdir" "$tmp/cm/consumer" >/dev/null
"$tmp/cm/consumer_static" >/dev/null
echo "install: DESTDIR, pkg-config, CMake package (shared and static), SONAME $soname, exports ok"
