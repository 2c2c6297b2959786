#!/usr/bin/env bash
# Builds, here (no GPU needed), everything scripts/gpu-check.sh runs on a lent GPU machine, which
# has no internet and possibly no Rust: the GPU test binaries, `bench` and `r0-cli`, all with
# `--features cuda`, release, stripped, PTX embedded. They land in target-gpu/bundle/ (ignored by
# git; pass that folder to the device tool's `carry`). Keep it small: it travels.
#
#   scripts/gpu-build.sh            # then, on the GPU machine: scripts/gpu-check.sh
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
bundle="$root/target-gpu/bundle"
export CARGO_TARGET_DIR="$root/target-gpu/build"
# No debug info and stripped symbols: a test binary linking cudarc is ~50 MB with them.
export CARGO_PROFILE_RELEASE_DEBUG=0 CARGO_PROFILE_RELEASE_STRIP=symbols
export CARGO_PROFILE_BENCH_DEBUG=0 CARGO_PROFILE_BENCH_STRIP=symbols
rm -rf "$bundle"
mkdir -p "$bundle/tests"

# The GPU tests: every test target named cuda_* or gpu_* in kernels, tensor and models.
cargo test --release --features cuda -p kernels -p tensor -p models --no-run --message-format=json 2>/dev/null |
  python3 -c '
import json, shutil, sys, os
dest = sys.argv[1]
for line in sys.stdin:
    try:
        m = json.loads(line)
    except ValueError:
        continue
    if m.get("reason") != "compiler-artifact" or not m.get("executable") or not m.get("profile", {}).get("test"):
        continue
    name, pkg = m["target"]["name"], m["package_id"]
    if name.startswith(("cuda_", "gpu_")) or (m["target"]["kind"] == ["lib"] and "kernels" in pkg):
        shutil.copy2(m["executable"], os.path.join(dest, name if name.startswith(("cuda_", "gpu_")) else "kernels_lib"))
' "$bundle/tests"

cargo build --release --features cuda -p bench -p r0-cli
cp "$CARGO_TARGET_DIR/release/bench" "$CARGO_TARGET_DIR/release/r0-cli" "$bundle/"
cp scripts/gpu-check.sh "$bundle/"
ls -la "$bundle" "$bundle/tests"
du -sh "$bundle"
