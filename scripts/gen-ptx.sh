#!/usr/bin/env bash
# Regenerates kernels/cuda/ptx/{sm_80,sm_90}/*.ptx from kernels/cuda/*.cu with NVRTC 13.0 from
# PyPI (see scripts/nvrtc-env.sh). `scripts/gen-ptx.sh --check` only compares.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
eval "$("$root/scripts/nvrtc-env.sh")"
cd "$root"
cargo run --release -q -p kernels --features cuda --bin gen-ptx -- "$@"
