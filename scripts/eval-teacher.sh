#!/usr/bin/env bash
# Scores a diffusion model on the GenEval-style shapes set at 4, 8 and 18 Heun steps, with CFG 1
# and the given guidance scales, and its FD_shapes; writes one JSON line per run to $OUT/eval.jsonl.
#
#   scripts/eval-teacher.sh [--weights PATH] [--classifier DIR]    (defaults: shipped weights, runs/classifier)
#
# Knobs (environment): SET (geneval), CFGS ("2"; W or W@LO,HI for a guidance interval in σ),
# STEPS ("4 8 18"), FD_N (1000), OUT (runs/eval).
set -euo pipefail
cd "$(dirname "$0")/.."
SET=${SET:-geneval}
CFGS=${CFGS:-2}
STEPS=${STEPS:-"4 8 18"}
FD_N=${FD_N:-1000}
OUT=${OUT:-runs/eval}
WEIGHTS=(--model diffusion)
CLASSIFIER=runs/classifier
while [ $# -gt 0 ]; do
  case "$1" in
    --weights) WEIGHTS=(--weights "$2"); shift 2 ;;
    --classifier) CLASSIFIER="$2"; shift 2 ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
done
cargo build --release -p r0-cli -q
CLI=target/release/r0-cli
mkdir -p "$OUT"
# "W" or "W@LO,HI" → the --cfg (and --cfg-interval) arguments.
guidance() {
  case "$1" in
    *@*) echo "--cfg ${1%@*} --cfg-interval ${1#*@}" ;;
    *) echo "--cfg $1" ;;
  esac
}
for steps in $STEPS; do
  for w in 1 $CFGS; do
    # shellcheck disable=SC2046
    line=$($CLI eval shapes "${WEIGHTS[@]}" --steps "$steps" $(guidance "$w") --set "$SET" --json)
    echo "{\"steps\": $steps, \"cfg\": \"$w\", \"set\": \"$SET\", \"report\": $line}" | tee -a "$OUT/eval.jsonl"
  done
done
if [ -d "$CLASSIFIER" ]; then
  for w in 1 $CFGS; do
    # shellcheck disable=SC2046
    $CLI eval fd "${WEIGHTS[@]}" --classifier "$CLASSIFIER" --steps 18 $(guidance "$w") --n "$FD_N" --json | tee -a "$OUT/fd.jsonl"
  done
fi
