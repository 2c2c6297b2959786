#!/usr/bin/env bash
# The single prepared script for a lent GPU machine (x86-64, NVIDIA H100/H200, driver R580,
# no internet, nothing from crates.io). It runs what scripts/gpu-build.sh built here:
#   1. probe: GPU, driver, which CUDA libraries exist (libnvrtc / libcublas decide whether the
#      optional run-time paths could ever be used), glibc;
#   2. every GPU test binary with REQUIRE_GPU=1 (a GPU that cannot be opened fails, never skips),
#      one thread (one context, one stream), each under a timeout;
#   3. benchmarks: elementwise bandwidth as % of the device's peak, GEMM TFLOP/s (f32, TF32, bf16;
#      cuBLAS is not linked), the U-Net training step on the GPU and at 2 CPU threads;
#   4. `r0-cli sample --device cuda` with the shipped teacher.
# Prints a summary and writes it with all logs under $OUT (the device tool's output folder) or
# target-gpu/report. Exit status 1 when any test failed. Runs in well under 5 minutes.
#
#   scripts/gpu-check.sh [BUNDLE]     (default: target-gpu/bundle, unpacked from bundle.tar.xz if needed)
set -uo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
bundle="${1:-$root/target-gpu/bundle}"
report="${OUT:-$root/target-gpu/report}"
mkdir -p "$report"
summary="$report/summary.txt"
: >"$summary"
say() { echo "$*" | tee -a "$summary"; }
if [ ! -x "$bundle/bench" ] && [ -f "$root/target-gpu/bundle.tar.xz" ] && [ "$#" -eq 0 ]; then
  tar -C "$root/target-gpu" -xJf "$root/target-gpu/bundle.tar.xz"
fi
if [ ! -x "$bundle/bench" ]; then
  echo "no bundle at $bundle: run scripts/gpu-build.sh on a development machine first" >&2
  exit 2
fi

say "== probe ($(date -u +%FT%TZ))"
{
  nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.memory --format=csv,noheader 2>&1 || echo "nvidia-smi: not found"
  echo "libraries: $(ldconfig -p 2>/dev/null | grep -oE 'lib(cuda|nvrtc|cublas|cublasLt)\.so[.0-9]*' | sort -u | tr '\n' ' ')"
  echo "nvcc: $(command -v nvcc || echo none); cargo: $(command -v cargo || echo none)"
  echo "glibc: $(ldd --version 2>&1 | head -1)"
  echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(nproc) cores"
} | tee -a "$summary"

say "== tests (REQUIRE_GPU=1, --test-threads=1)"
passed=0
failed=0
for t in "$bundle"/tests/*; do
  name="$(basename "$t")"
  REQUIRE_GPU=1 timeout 240 "$t" --test-threads=1 >"$report/test-$name.log" 2>&1
  rc=$?
  p=$(grep -oE '[0-9]+ passed' "$report/test-$name.log" | awk '{s+=$1} END {print s+0}')
  f=$(grep -oE '[0-9]+ failed' "$report/test-$name.log" | awk '{s+=$1} END {print s+0}')
  [ "$rc" -ne 0 ] && [ "$f" -eq 0 ] && f=1
  passed=$((passed + p))
  failed=$((failed + f))
  say "$(printf '%-28s %4d passed %4d failed (exit %d)' "$name" "$p" "$f" "$rc")"
  [ "$f" -ne 0 ] && grep -E '^test .* FAILED|panicked|assertion' "$report/test-$name.log" | head -8 | tee -a "$summary"
done
say "tests: $passed passed, $failed failed"

say "== benchmarks"
timeout 150 "$bundle/bench" gpu --json 2>&1 | tee "$report/bench-gpu.jsonl" | tee -a "$summary"
timeout 90 "$bundle/bench" train-step --workload unet --device cuda --warmup 3 --steps 20 --json 2>&1 |
  tee "$report/bench-unet-gpu.jsonl" | tee -a "$summary"
timeout 90 "$bundle/bench" train-step --workload unet --threads 2 --warmup 1 --steps 5 --json 2>&1 |
  tee "$report/bench-unet-cpu2.jsonl" | tee -a "$summary"
python3 - "$report" <<'PY' 2>/dev/null | tee -a "$summary" || true
import json, sys, os
r = sys.argv[1]
def ms(f):
    for line in open(os.path.join(r, f)):
        try:
            return json.loads(line)["median_ms"]
        except (ValueError, KeyError):
            pass
g, c = ms("bench-unet-gpu.jsonl"), ms("bench-unet-cpu2.jsonl")
if g and c:
    print(f"U-Net step: GPU {g:.2f} ms, 2 CPU threads here {c:.0f} ms: {c / g:.1f}x (target >= 20x)")
PY

say "== r0-cli sample --device cuda"
timeout 120 "$bundle/r0-cli" sample --prompt "a red circle left of a blue square" --device cuda --n 32 \
  --out "$report/sample-cuda.png" 2>&1 | tee -a "$summary"

say "== done: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
