#!/usr/bin/env bash
# Installs the Debian packages `gorustls bench -only http` runs as load
# generators: h2load (nghttp2-client) for HTTP/2 and wrk for HTTP/1.1.
# Does nothing when both are present.
set -euo pipefail
pkgs=()
command -v h2load >/dev/null 2>&1 || pkgs+=(nghttp2-client)
command -v wrk >/dev/null 2>&1 || pkgs+=(wrk)
[ ${#pkgs[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "the http benchmarks need: ${pkgs[*]} (install them with your package manager)" >&2
  exit 1
fi
echo "installing load generators: ${pkgs[*]}"
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${pkgs[@]}" >/dev/null
