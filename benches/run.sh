#!/usr/bin/env bash
# Runs the engine's `bench` and the peers of shared/peers/ in one go, then prints the ratio tables
# (benches/ratios.py). Every measurement runs in its own process; 1-thread runs are pinned to one
# CPU with taskset (as the Python peers pin themselves with sched_setaffinity). A missing peer
# (no Python, no torch/jax, no network for the Rust peers) is skipped with a note, never fatal.
#
#   benches/run.sh                 # ours (gemm + 3 workloads at 1 and 2 threads) + available peers
#
# Environment knobs (defaults in brackets):
#   PEERS_DIR      the peer scripts                         [<repo>/../shared/peers]
#   PEERS_PYTHON   Python with numpy+threadpoolctl (+torch, jax)  [/tmp/pv/bin/python if present]
#   INSTALL_PEERS  comma list of peers to pip-install into that Python first: jax, torch-cpu
#                  (the CPU-only wheel), torch (PyPI's, pulls ~6 GB of CUDA wheels)   [none]
#   RUST_PEERS=1   also build and run peers/rust_gemm (gemm, matrixmultiply crates; needs crates.io)
#   SKIP_PEERS=1   only our bench;  SKIP_OURS=1  only the peers
#   THREADS ["1 2"]  WORKLOADS ["mlp unet gpt"]  STEPS [20]  WARMUP [5]
#   GEMM_LIBS [numpy,torch,jax]  TRAIN_FWS [torch,jax]
#   STORED=0       do not fall back to the peers' stored results (PEERS_DIR/results) for missing peers;
#                  they are used only when their CPU model equals this machine's (STORED=any: always)
#   IDLE_WAIT_MAX  seconds to wait for the machine to go idle before each section   [30]
#   FOREIGN_MAX [0.15] RETRIES [2]   rerun one of ours while others used more cores than that
#   UPDATE_README=1  replace the Results section of benches/README.md with this run's report
#   OUT            where results go   [<repo>/target-bench/bench-results/<UTC date-time>]
#   CARGO_TARGET_DIR                  [<repo>/target-bench]
set -u -o pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PEERS_DIR="${PEERS_DIR:-$ROOT/../shared/peers}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target-bench}"
OUT="${OUT:-$CARGO_TARGET_DIR/bench-results/$(date -u +%Y%m%d-%H%M%S)}"
THREADS="${THREADS:-1 2}"
WORKLOADS="${WORKLOADS:-mlp unet gpt}"
STEPS="${STEPS:-20}"
WARMUP="${WARMUP:-5}"
mkdir -p "$OUT"
NOTES="$OUT/notes.txt"
: > "$NOTES"
note() { echo "$*" | tee -a "$NOTES"; }
T_START=$(date +%s)

# CPU busy % over one second (all CPUs), from /proc/stat.
busy_pct() {
  local a b
  read -r _ a1 a2 a3 a4 a5 a6 a7 a8 _ < /proc/stat
  sleep 1
  read -r _ b1 b2 b3 b4 b5 b6 b7 b8 _ < /proc/stat
  a=$((a1 + a2 + a3 + a6 + a7 + a8)); b=$((b1 + b2 + b3 + b6 + b7 + b8))
  local tot=$(((b + b4 + b5) - (a + a4 + a5)))
  [ "$tot" -gt 0 ] && echo $((100 * (b - a) / tot)) || echo 0
}
# Waits (at most IDLE_WAIT_MAX s) for other processes to quiet down; records what it saw.
wait_idle() {
  local b n=0
  while :; do
    b=$(busy_pct); n=$((n + 1))
    if [ "$b" -le 10 ]; then echo "busy before $1: ${b}% (after ${n}s)"; return; fi
    if [ "$n" -ge "${IDLE_WAIT_MAX:-30}" ]; then
      note "WARNING busy before $1: ${b}% after ${n}s of waiting (load $(cut -d' ' -f1-3 /proc/loadavg)); timings are noisy"
      return
    fi
  done
}

# Pin single-thread runs to the first CPU this process may use.
CPU0="$(taskset -pc $$ 2>/dev/null | sed 's/.*: *//; s/[-,].*//')"
pin() { # pin THREADS cmd...
  local t="$1"; shift
  if [ "$t" = "1" ] && [ -n "$CPU0" ] && command -v taskset >/dev/null; then taskset -c "$CPU0" "$@"; else "$@"; fi
}

# Runs one of our bench processes (pinned when 1 thread), reruns it up to RETRIES times while
# other processes kept more than FOREIGN_MAX cores busy during its measurement (its JSON
# "foreign_load", as the peers' guard), keeps the least-disturbed output and appends it to $1.
FOREIGN_MAX="${FOREIGN_MAX:-0.15}"
RETRIES="${RETRIES:-2}"
run_ours() { # run_ours OUTFILE LABEL THREADS cmd...
  local outf="$1" label="$2" t="$3"; shift 3
  local best="" best_load="" try load
  for try in $(seq 1 $((1 + RETRIES))); do
    if ! pin "$t" "$@" > "$OUT/.try.jsonl" 2> "$OUT/.try.err"; then
      note "ours $label: FAILED ($(tail -1 "$OUT/.try.err"))"; return
    fi
    load="$(sed -n 's/.*"foreign_load":\([0-9.]*\).*/\1/p' "$OUT/.try.jsonl" | sort -g | tail -1)"
    load="${load:-0}"
    if [ -z "$best" ] || awk -v a="$load" -v b="$best_load" 'BEGIN { exit !(a < b) }'; then
      best="$(cat "$OUT/.try.jsonl")"; best_load="$load"
    fi
    awk -v a="$load" -v m="$FOREIGN_MAX" 'BEGIN { exit !(a <= m) }' && break
  done
  note "ours $label: foreign load ${best_load} cores (max over its rows; $try run(s))"
  echo "$best" | tee -a "$outf"
  rm -f "$OUT/.try.jsonl" "$OUT/.try.err"
}

# ---------------------------------------------------------------- Python for the peers
PY=""
if [ -n "${PEERS_PYTHON:-}" ]; then PY="$PEERS_PYTHON"
elif [ -x /tmp/pv/bin/python ]; then PY=/tmp/pv/bin/python
fi
if [ -n "$PY" ] && ! "$PY" -c "import sys" 2>/dev/null; then note "peers: $PY does not run; Python peers skipped"; PY=""; fi
if [ -n "$PY" ] && [ -n "${INSTALL_PEERS:-}" ]; then
  for p in ${INSTALL_PEERS//,/ }; do
    case "$p" in
      jax) spec=("jax[cpu]") ;;
      torch-cpu) spec=(torch --index-url https://download.pytorch.org/whl/cpu) ;;
      torch) spec=(torch) ;;
      *) note "INSTALL_PEERS: unknown peer '$p' (jax, torch-cpu, torch)"; continue ;;
    esac
    note "installing ${spec[*]} into $PY"
    timeout "${INSTALL_TIMEOUT:-1800}" "$PY" -m pip install -q "${spec[@]}" >> "$OUT/install.log" 2>&1 \
      || note "install of $p failed (see $OUT/install.log); that peer will be skipped"
  done
fi
have_py() { [ -n "$PY" ] && "$PY" -c "import $1" >/dev/null 2>&1; }

# ---------------------------------------------------------------- machine
{
  echo "date: $(date -u '+%Y-%m-%d %H:%M UTC')"
  lsf() { lscpu 2>/dev/null | sed -n "s/^$1:[[:space:]]*//p" | head -1; }
  echo "cpu: $(lsf 'Model name') ($(lsf 'Vendor ID') family $(lsf 'CPU family') model $(lsf 'Model'); L2 $(lsf 'L2 cache'), L3 $(lsf 'L3 cache'))"
  echo "cores: $(nproc) (lscpu: $(lscpu | sed -n 's/^Core(s) per socket:[[:space:]]*//p') cores/socket x $(lscpu | sed -n 's/^Socket(s):[[:space:]]*//p') socket(s), $(lscpu | sed -n 's/^Thread(s) per core:[[:space:]]*//p') thread/core)"
  echo "kernel: $(uname -r); rustc: $(rustc -V 2>/dev/null); python (peers): $([ -n "$PY" ] && echo "$("$PY" -V 2>&1) ($PY)" || echo none)"
  echo "flags: $(grep -m1 -o -w -E 'avx512f|avx2|fma' /proc/cpuinfo | sort -u | tr '\n' ' ')"
  echo "commit: $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null)$(git -C "$ROOT" diff --quiet 2>/dev/null || echo ' (+ uncommitted changes)')"
} | tee "$OUT/machine.txt"

# ---------------------------------------------------------------- ours
if [ "${SKIP_OURS:-0}" != "1" ]; then
  echo "== build bench (CARGO_TARGET_DIR=$CARGO_TARGET_DIR)"
  BIN="$CARGO_TARGET_DIR/release/bench"
  if ! (cd "$ROOT" && cargo build --release -p bench) > "$OUT/build.log" 2>&1; then
    note "bench: build FAILED (see $OUT/build.log); our numbers are missing"
  else
    for t in $THREADS; do
      wait_idle "ours gemm ${t}T"
      echo "== ours: gemm, $t thread(s)"
      : > "$OUT/ours_gemm.$t.jsonl"
      run_ours "$OUT/ours_gemm.$t.jsonl" "gemm ${t}T" "$t" "$BIN" gemm --json --threads "$t"
    done
    : > "$OUT/ours_train.jsonl"
    for w in $WORKLOADS; do
      for t in $THREADS; do
        wait_idle "ours $w ${t}T"
        echo "== ours: train-step $w, $t thread(s)"
        run_ours "$OUT/ours_train.jsonl" "$w ${t}T" "$t" \
          "$BIN" train-step --workload "$w" --threads "$t" --steps "$STEPS" --warmup "$WARMUP" --json
      done
    done
  fi
fi

# ---------------------------------------------------------------- peers
if [ "${SKIP_PEERS:-0}" != "1" ]; then
  if [ ! -d "$PEERS_DIR" ]; then
    note "peers: $PEERS_DIR not found; peers skipped"
  elif [ -z "$PY" ]; then
    note "peers: no Python (set PEERS_PYTHON, or create /tmp/pv with numpy+threadpoolctl); Python peers skipped"
  else
    THREADS_CSV="$(echo $THREADS | tr ' ' ',')"
    libs=""
    for l in ${GEMM_LIBS:-numpy,torch,jax}; do
      for one in ${l//,/ }; do
        if [ "$one" = numpy ] && ! have_py threadpoolctl; then note "peers: numpy gemm needs threadpoolctl; skipped"; continue; fi
        if have_py "$one"; then libs="${libs:+$libs,}$one"; else note "peers: $one not installed in $PY; skipped"; fi
      done
    done
    if [ -n "$libs" ]; then
      wait_idle "peers gemm.py"
      echo "== peers: gemm.py --libs $libs --threads $THREADS_CSV"
      "$PY" "$PEERS_DIR/gemm.py" --libs "$libs" --threads "$THREADS_CSV" --csv "$OUT/peer_gemm.csv" \
        > "$OUT/peer_gemm.md" 2>&1 || note "peers: gemm.py exited with an error (see $OUT/peer_gemm.md)"
      cat "$OUT/peer_gemm.md"
    fi
    fws=""
    for f in ${TRAIN_FWS:-torch,jax}; do
      for one in ${f//,/ }; do
        if have_py "$one"; then fws="${fws:+$fws,}$one"; else note "peers: $one not installed; train_step.py $one skipped"; fi
      done
    done
    if [ -n "$fws" ]; then
      wait_idle "peers train_step.py"
      echo "== peers: train_step.py --fw $fws (mlp at 2 and 1 threads, unet and gpt at 2, as the script plans)"
      "$PY" "$PEERS_DIR/train_step.py" --fw "$fws" --work "$(echo $WORKLOADS | tr ' ' ',')" --steps "$STEPS" \
        --warmup "$WARMUP" --csv "$OUT/peer_train.csv" > "$OUT/peer_train.md" 2>&1 \
        || note "peers: train_step.py exited with an error (see $OUT/peer_train.md)"
      cat "$OUT/peer_train.md"
    fi
  fi
  if [ "${RUST_PEERS:-0}" = "1" ] && [ -d "$PEERS_DIR/rust_gemm" ]; then
    RT="${RUST_PEERS_TARGET:-$CARGO_TARGET_DIR/rust_gemm}"
    echo "== peers: build rust_gemm (into $RT)"
    if CARGO_TARGET_DIR="$RT" timeout 900 cargo build --release --manifest-path "$PEERS_DIR/rust_gemm/Cargo.toml" \
      > "$OUT/rust_gemm_build.log" 2>&1; then
      wait_idle "peers rust_gemm"
      "$RT/release/rust_gemm" --libs gemm,matrixmultiply --csv "$OUT/peer_gemm_rust.csv" > "$OUT/peer_gemm_rust.md" 2>&1 \
        || note "peers: rust_gemm exited with an error"
      cat "$OUT/peer_gemm_rust.md"
    else
      note "peers: rust_gemm build failed (see $OUT/rust_gemm_build.log); skipped"
    fi
  fi
fi

note "run.sh wall time: $(( $(date +%s) - T_START ))s"
STORED_ARGS=()
if [ "${STORED:-1}" != "0" ] && [ -d "$PEERS_DIR/results" ]; then
  STORED_ARGS=(--stored "$PEERS_DIR/results")
  [ "${STORED:-1}" = "any" ] && STORED_ARGS+=(--stored-any-cpu)
fi
REPORT_PY="$(command -v python3 || echo "$PY")"
if [ -n "$REPORT_PY" ]; then
  "$REPORT_PY" "$ROOT/benches/ratios.py" "$OUT" "${STORED_ARGS[@]}" | tee "$OUT/report.md"
  echo "== results in $OUT (report.md)"
  if [ "${UPDATE_README:-0}" = "1" ]; then
    "$REPORT_PY" "$ROOT/benches/ratios.py" --into-readme "$ROOT/benches/README.md" "$OUT/report.md" \
      && echo "== benches/README.md: Results section replaced by this run's report"
  fi
else
  echo "no python3 for the report; raw results in $OUT"
fi
