#!/usr/bin/env bash
# Checks the path a user takes from their own module: install librustls
# once with `make install PREFIX=...`, then build a program in a separate
# module (build/consumer, copied out of the checkout, requiring gorustls
# through a replace to it) with only that prefix on PKG_CONFIG_PATH, and
# run its handshake. Also runs the installed gorustls binary.
# Usage: build/test-install.sh   (from the Makefile: make test-install)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
prefix=$work/prefix

make -s -C "$root" install PREFIX="$prefix" >/dev/null
for f in lib/librustls.a include/rustls.h lib/pkgconfig/rustls.pc bin/gorustls; do
  [ -e "$prefix/$f" ] || { echo "test-install: make install did not write $f" >&2; exit 1; }
done

cp -r "$root/build/consumer" "$work/consumer"
cd "$work/consumer"
go mod edit -replace "github.com/gorustls/gorustls=$root"
# Only the installed prefix: neither the checkout's build/out nor anything
# the caller had on PKG_CONFIG_PATH.
export PKG_CONFIG_PATH="$prefix/lib/pkgconfig" PKG_CONFIG_LIBDIR="$prefix/lib/pkgconfig" CGO_ENABLED=1
# The stamp makes Go rebuild the cgo package against this prefix instead of
# reusing what it cached for the checkout's build/out (Go's cache does not
# hash pkg-config's output).
export CGO_CFLAGS="-O2 -g -DGORUSTLS_LIBRUSTLS_STAMP=$(cat "$prefix/lib/pkgconfig/rustls.pc" "$prefix/lib/librustls.a" | sha256sum | cut -c1-16)"
got=$(pkg-config --variable=prefix rustls)
[ "$got" = "$prefix" ] || { echo "test-install: pkg-config found rustls at $got, not $prefix" >&2; exit 1; }
go mod tidy >/dev/null 2>&1 || go mod tidy
go build -x -o consumer . 2>build.log
grep -q -- "-L$prefix/lib" build.log || { echo "test-install: the link did not use $prefix/lib" >&2; exit 1; }
out=$(./consumer)
echo "$out"
case "$out" in *"TLS 1.3 handshake"*'echoed "hello"'*) ;; *) echo "test-install: unexpected output" >&2; exit 1 ;; esac
"$prefix/bin/gorustls" version
echo "test-install: 1 passed, 0 failed"
