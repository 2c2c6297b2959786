#!/usr/bin/env bash
# The single prepared script for a lent GPU machine (x86-64, NVIDIA H100/H200, driver R580,
# no internet, nothing from crates.io). It runs what scripts/gpu-build.sh built here:
#   1. probe: GPU, driver, which CUDA libraries exist (libnvrtc / libcublas decide whether the
#      optional run-time paths could ever be used), glibc, the revision the bundle was built from;
#   2. every GPU test binary with REQUIRE_GPU=1 (a GPU that cannot be opened fails, never skips),
#      one thread (one context, one stream), each under its own cap;
#   3. benchmarks: elementwise bandwidth as % of the device's peak, GEMM TFLOP/s (f32, TF32, bf16;
#      cuBLAS is not linked), the U-Net training step on the GPU and at 2 CPU threads;
#   4. the same copy, add and GEMMs through PyTorch when the machine's python3 has it (cuBLAS is
#      what the CUDA issue's GEMM target is stated against), and the ratios;
#   5. `r0-cli sample --device cuda` with the shipped teacher.
# The whole run stays under DEADLINE seconds (default 285: the issue asks for under 5 minutes):
# every step's timeout is cut to what is left, keeping a reserve for the steps after it.
# Prints a summary and leaves three files in $OUT (the device tool's output folder; it brings
# back only a few files) or target-gpu/report: summary.txt, logs.tar.gz (every log and JSON
# line) and sample-cuda.png. Exit status 1 when any test failed or was not run for lack of time.
#
#   scripts/gpu-check.sh [BUNDLE]     (default: target-gpu/bundle, unpacked from bundle.tar.xz if needed)
set -uo pipefail
start=$SECONDS
deadline=${DEADLINE:-285}
root="$(cd "$(dirname "$0")/.." && pwd)"
bundle="${1:-$root/target-gpu/bundle}"
report="${OUT:-$root/target-gpu/report}"
logs="$(mktemp -d "${TMPDIR:-/tmp}/gpu-check.XXXXXX")"
mkdir -p "$report"
summary="$report/summary.txt"
: >"$summary"
say() { echo "$*" | tee -a "$summary"; }
# capped CAP RESERVE CMD...: runs CMD under `timeout`, at most CAP seconds and never into the
# RESERVE seconds kept for later steps; skipped (exit 124) when no time is left.
capped() {
  local cap=$1 reserve=$2
  shift 2
  local left=$((deadline - (SECONDS - start) - reserve))
  [ "$left" -lt "$cap" ] && cap=$left
  if [ "$cap" -lt 5 ]; then
    echo "skipped: out of time (deadline ${deadline}s)"
    return 124
  fi
  timeout -k 5 "$cap" "$@"
}
finish() {
  tar -C "$logs" -czf "$report/logs.tar.gz" . 2>/dev/null
  rm -rf "$logs"
}
trap finish EXIT

if [ ! -x "$bundle/bench" ] && [ -f "$root/target-gpu/bundle.tar.xz" ] && [ "$#" -eq 0 ]; then
  tar -C "$root/target-gpu" -xJf "$root/target-gpu/bundle.tar.xz"
fi
if [ ! -x "$bundle/bench" ]; then
  echo "no bundle at $bundle: run scripts/gpu-build.sh on a development machine first" >&2
  exit 2
fi

say "== probe ($(date -u +%FT%TZ))"
{
  echo "bundle: $(cat "$bundle/REVISION" 2>/dev/null || echo 'revision unknown')"
  if command -v nvidia-smi >/dev/null; then
    nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.memory --format=csv,noheader 2>&1
  else
    echo "nvidia-smi: not found"
  fi
  echo "libraries: $(ldconfig -p 2>/dev/null | grep -oE 'lib(cuda|nvrtc|cublas|cublasLt)\.so[.0-9]*' | sort -u | tr '\n' ' ')"
  echo "nvcc: $(command -v nvcc || echo none); cargo: $(command -v cargo || echo none)"
  echo "glibc: $(ldd --version 2>&1 | head -1)"
  echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(nproc) cores"
} | tee -a "$summary"

say "== tests (REQUIRE_GPU=1, --test-threads=1)"
passed=0
failed=0
skipped=0
for t in "$bundle"/tests/*; do
  name="$(basename "$t")"
  # The kernels library's own tests are mostly CPU tests: only its cuda modules run here.
  filter=()
  [ "$name" = kernels_kernels ] && filter=(cuda::)
  # 195 s stay reserved for the benchmarks, the PyTorch reference and the sample.
  REQUIRE_GPU=1 capped 90 195 "$t" ${filter[@]+"${filter[@]}"} --test-threads=1 >"$logs/test-$name.log" 2>&1
  rc=$?
  p=$(grep -oE '[0-9]+ passed' "$logs/test-$name.log" | awk '{s+=$1} END {print s+0}')
  f=$(grep -oE '[0-9]+ failed' "$logs/test-$name.log" | awk '{s+=$1} END {print s+0}')
  note=""
  if grep -q '^skipped: out of time' "$logs/test-$name.log"; then
    skipped=$((skipped + 1))
    note=" (not run: out of time)"
  elif [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
    # Killed by its timeout, or crashed before libtest printed a summary.
    f=1
    [ "$rc" -eq 124 ] && note=" (timed out)"
  fi
  passed=$((passed + p))
  failed=$((failed + f))
  say "$(printf '%-28s %4d passed %4d failed (exit %d)%s' "$name" "$p" "$f" "$rc" "$note")"
  # After a kernel fault the context is unusable, so later tests of the same binary fail too:
  # the first failure is the one to read.
  [ "$f" -ne 0 ] && grep -E '^test .* FAILED|panicked|assertion' "$logs/test-$name.log" | head -8 | tee -a "$summary"
done
say "tests: $passed passed, $failed failed, $skipped binaries not run for lack of time"

say "== benchmarks"
capped 60 135 "$bundle/bench" gpu --json 2>&1 | tee "$logs/bench-gpu.jsonl" | tee -a "$summary"
capped 45 90 "$bundle/bench" train-step --workload unet --device cuda --warmup 3 --steps 20 --json 2>&1 |
  tee "$logs/bench-unet-gpu.jsonl" | tee -a "$summary"
capped 30 70 "$bundle/bench" train-step --workload unet --threads 2 --warmup 1 --steps 5 --json 2>&1 |
  tee "$logs/bench-unet-cpu2.jsonl" | tee -a "$summary"
python3 - "$logs" <<'PY' 2>/dev/null | tee -a "$summary" || true
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

say "== reference: PyTorch on this GPU (cuBLAS, its copy kernels), same timing policy, if python3 has torch"
capped 45 25 python3 - "$logs" <<'PY' 2>&1 | tee "$logs/torch-ref.txt" | tee -a "$summary"
import json, os, statistics, sys, time
import torch
r = sys.argv[1]
dev = torch.device("cuda")
def median_s(f, reps):
    # As `bench gpu`: two warm-up runs, then each run timed on the host up to a synchronise.
    for _ in range(2):
        f()
    torch.cuda.synchronize()
    ts = []
    for _ in range(reps):
        t0 = time.perf_counter()
        f()
        torch.cuda.synchronize()
        ts.append(time.perf_counter() - t0)
    return statistics.median(ts)
n = 1 << 28
a = torch.full((n,), 1.5, device=dev)
b = torch.full((n,), 0.5, device=dev)
ref = {}
for op, f, nbytes in [("copy f32 2^28", lambda: a.clone(), 8 * n), ("add f32 2^28", lambda: a + b, 12 * n)]:
    s = median_s(f, 10)
    ref[op] = s
    print(json.dumps({"bench": "torch-bandwidth", "op": op, "median_ms": round(s * 1e3, 3), "gb_per_s": round(nbytes / s / 1e9, 1)}))
del a, b
x = torch.randn(4096, 4096, device=dev)
y = torch.randn(4096, 4096, device=dev)
for name, (xx, yy, tf32) in {"f32": (x, y, False), "tf32": (x, y, True),
                             "bf16": (x.bfloat16(), y.bfloat16(), False)}.items():
    torch.backends.cuda.matmul.allow_tf32 = tf32
    s = median_s(lambda: xx @ yy, 5)
    ref[name] = s
    print(json.dumps({"bench": "torch-gemm", "shape": "sq4096", "precision": name, "median_ms": round(s * 1e3, 3), "tflops": round(2 * 4096**3 / s / 1e12, 1)}))
ours = {}
for line in open(os.path.join(r, "bench-gpu.jsonl")):
    try:
        o = json.loads(line)
    except ValueError:
        continue
    ours[o.get("op") or o.get("precision")] = o["median_ms"] / 1e3
for k in ref:
    if k in ours:
        print(f"{k}: ours {ours[k] * 1e3:.3f} ms, PyTorch {ref[k] * 1e3:.3f} ms: ours at {100 * ref[k] / ours[k]:.0f} % of its speed")
PY

say "== r0-cli sample --device cuda"
capped 25 0 "$bundle/r0-cli" sample --prompt "a red circle left of a blue square" --device cuda --n 32 \
  --out "$report/sample-cuda.png" 2>&1 | tee "$logs/sample.log" | tail -3 | tee -a "$summary"

say "== done in $((SECONDS - start)) s: $passed passed, $failed failed, $skipped test binaries not run"
[ "$failed" -eq 0 ] && [ "$skipped" -eq 0 ]
