#!/usr/bin/env bash
# Checks the tools the build needs and says how to get each missing one.
# Usage: build/check-prereqs.sh [bundled|system]
mode=${1:-bundled}
missing=0
need() {
  if ! command -v "$1" >/dev/null 2>&1; then
    echo "missing: $1 -- $2" >&2
    missing=1
  fi
}
need go "install Go 1.26 or newer (https://go.dev/dl/)"
need pkg-config "apt-get install -y pkg-config"
need cc "apt-get install -y gcc (a C compiler for cgo)"
if [ "$mode" = bundled ]; then
  need cargo "install Rust 1.85 or newer with rustup (https://rustup.rs), or use RUSTLS=system"
  need cmake "apt-get install -y cmake (aws-lc-sys may need it)"
fi
if [ $missing -ne 0 ]; then
  echo "gorustls: prerequisites missing (see above)" >&2
  exit 1
fi
