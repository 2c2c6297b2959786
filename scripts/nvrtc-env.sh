#!/usr/bin/env bash
# Installs NVRTC 13.0 and the CUDA 13.0 headers from PyPI into the project's .venv (no CUDA
# toolkit, no GPU needed) and prints the two exports that let the PTX generator use them:
#   eval "$(scripts/nvrtc-env.sh)"
# The versions are pinned: the committed PTX is byte-reproducible only with NVRTC 13.0, and
# newer NVRTC emits PTX the R580 driver (CUDA 13.0) rejects.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
python="$("$root/scripts/python-env.sh")"
find_cu13() { "$python" -c 'import nvidia.cu13; print(list(nvidia.cu13.__path__)[0])' 2>/dev/null; }
cu13="$(find_cu13 || true)"
if [ -z "$cu13" ] || [ ! -f "$cu13/include/cuda_fp16.h" ] || ! ls "$cu13"/lib/libnvrtc.so* >/dev/null 2>&1; then
  "$python" -m pip install -q --disable-pip-version-check nvidia-cuda-nvrtc==13.0.88 nvidia-cuda-runtime==13.0.96 >&2
  cu13="$(find_cu13)"
fi
echo "export LD_LIBRARY_PATH=\"$cu13/lib\${LD_LIBRARY_PATH:+:\$LD_LIBRARY_PATH}\""
echo "export CUDA_INCLUDE_DIR=\"$cu13/include\""
