#!/usr/bin/env bash
# Installs the Debian packages the tests and benchmarks start, by group:
#   interop  the interop tests' peers: openssl, gnutls-bin, curl
#   bench    the http benchmark group's load generators: h2load
#            (nghttp2-client) for HTTP/2, wrk for HTTP/1.1
#   asan     clang, which `go test -asan` (make asan) builds with
# Usage: build/install-deps.sh GROUP... (make test-deps: all three; make
# bench-deps: bench). Installs only what is missing, and does nothing when
# every command is present. The Dockerfile installs the same packages.
set -euo pipefail
[ $# -gt 0 ] || { echo "usage: $0 interop|bench|asan..." >&2; exit 2; }
want=() # command:package pairs
for group in "$@"; do
  case "$group" in
    interop) want+=(openssl:openssl gnutls-serv:gnutls-bin curl:curl) ;;
    bench) want+=(h2load:nghttp2-client wrk:wrk) ;;
    asan) want+=(clang:clang) ;;
    *) echo "$0: unknown group $group (interop, bench, asan)" >&2; exit 2 ;;
  esac
done
pkgs=()
for pair in "${want[@]}"; do
  command -v "${pair%%:*}" >/dev/null 2>&1 || pkgs+=("${pair#*:}")
done
[ ${#pkgs[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "$*: missing ${pkgs[*]} (install them with your package manager)" >&2
  exit 1
fi
echo "installing ${pkgs[*]}"
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${pkgs[@]}" >/dev/null
