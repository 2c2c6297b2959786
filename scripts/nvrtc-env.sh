#!/usr/bin/env bash
# Installs NVRTC 13.0, the CUDA 13.0 headers and ptxas 13.0 from PyPI into the project's .venv
# (no CUDA toolkit, no GPU needed) and prints the exports that let the PTX generator and the
# assembly check (kernels/tests/ptx_assemble.rs) use them:
#   eval "$(scripts/nvrtc-env.sh)"
# The versions are pinned: the committed PTX is byte-reproducible only with NVRTC 13.0, and
# newer NVRTC emits PTX the R580 driver (CUDA 13.0) rejects.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
python="$("$root/scripts/python-env.sh")"
find_cu13() { "$python" -c 'import nvidia.cu13; print(list(nvidia.cu13.__path__)[0])' 2>/dev/null; }
cu13="$(find_cu13 || true)"
if [ -z "$cu13" ] || [ ! -f "$cu13/include/cuda_fp16.h" ] || ! ls "$cu13"/lib/libnvrtc.so* >/dev/null 2>&1 ||
  [ ! -x "$cu13/bin/ptxas" ]; then
  # nvidia-cuda-nvcc is only here for its ptxas (the driver's JIT does the same assembly).
  "$python" -m pip install -q --disable-pip-version-check nvidia-cuda-nvrtc==13.0.88 nvidia-cuda-runtime==13.0.96 \
    nvidia-cuda-nvcc==13.0.88 >&2
  cu13="$(find_cu13)"
fi
echo "export LD_LIBRARY_PATH=\"$cu13/lib\${LD_LIBRARY_PATH:+:\$LD_LIBRARY_PATH}\""
echo "export CUDA_INCLUDE_DIR=\"$cu13/include\""
echo "export PTXAS=\"$cu13/bin/ptxas\""
