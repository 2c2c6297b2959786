#!/usr/bin/env bash
# Builds, here (no GPU needed), everything scripts/gpu-check.sh runs on a lent GPU machine, which
# has no internet and possibly no Rust: the GPU test binaries, `bench` and `r0-cli`, all with
# `--features cuda`, release, stripped, PTX embedded. They land in target-gpu/bundle/ and, packed,
# in target-gpu/bundle.tar.xz (both ignored by git; carry the tarball to the GPU machine, where
# scripts/gpu-check.sh unpacks it).
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

# The GPU tests: kernels' cuda_* targets and lib tests, tensor's `cuda` target (every op family
# in one binary), models' gpu_unet. Named <package>_<target>. (cuda_emulated needs g++ and the
# sources, not a GPU: it runs in the ordinary test suite.)
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
    name, kind = m["target"]["name"], m["target"]["kind"]
    pkg = m["package_id"].split("#")[0].rstrip("/").split("/")[-1]
    gpu = name == "cuda" or name.startswith(("cuda_", "gpu_"))
    if (gpu and name != "cuda_emulated") or (kind == ["lib"] and pkg == "kernels"):
        shutil.copy2(m["executable"], os.path.join(dest, pkg + "_" + name))
' "$bundle/tests"

cargo build --release --features cuda -p bench -p r0-cli
cp "$CARGO_TARGET_DIR/release/bench" "$CARGO_TARGET_DIR/release/r0-cli" "$bundle/"
cp scripts/gpu-check.sh "$bundle/"
# gpu-check.sh prints this, so a stale bundle shows in the report.
echo "$(git rev-parse --short HEAD)$(git diff --quiet HEAD -- . ':!runs' || echo ' + uncommitted changes'), built $(date -u +%FT%TZ)" >"$bundle/REVISION"
# The device tool carries at most 64 MiB; the embedded PTX compresses well.
tar -C "$root/target-gpu" -cf - bundle | xz -T0 -6 >"$root/target-gpu/bundle.tar.xz"
ls -la "$bundle" "$bundle/tests"
du -sh "$bundle" "$root/target-gpu/bundle.tar.xz"
