#!/usr/bin/env bash
# Installs the Debian packages the interop tests start as peers: openssl,
# gnutls-bin and curl. Does nothing when they are all present.
set -euo pipefail
pkgs=()
command -v openssl >/dev/null 2>&1 || pkgs+=(openssl)
command -v gnutls-serv >/dev/null 2>&1 || pkgs+=(gnutls-bin)
command -v curl >/dev/null 2>&1 || pkgs+=(curl)
[ ${#pkgs[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "interop tests need: ${pkgs[*]} (install them with your package manager)" >&2
  exit 1
fi
echo "installing test peers: ${pkgs[*]}"
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${pkgs[@]}" >/dev/null
