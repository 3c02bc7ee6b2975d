#!/bin/bash
# Issue 20, item 5: AE-OT on the codes of all 60,000 Fashion-MNIST training images, with the
# solver settings chosen from the tolerance-vs-quality curve (docs/sdot-scale.md §4: p95 0.3,
# tol_max = 5 tol; the default sample budget, so the solve converges or says why not).
# Resumable: a step whose output exists is skipped. One thread by default (the CPU is shared).
#
#   bash benchmarks/run_full_scale_fit.sh               # MLP d = 8, then InfoGAN d = 64
#   NETS="mlp" bash benchmarks/run_full_scale_fit.sh    # only the MLP autoencoder
#
# Logs go to $OUT/*.log; docs/sdot-scale.md §5 quotes them.
set -euo pipefail
cd "$(dirname "$0")/.."
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1} MKL_NUM_THREADS=${MKL_NUM_THREADS:-1}
PY=${PY:-python}
AEOT="$PY -m aeot"
OUT=${OUT:-runs/full60k}
NETS=${NETS:-"mlp infogan"}
N_EVAL=${N_EVAL:-10000}
TOL=${TOL:-0.3}
mkdir -p "$OUT"
[ -f ~/.cache/aeot/classifiers/fashion-mnist.safetensors ] || $AEOT classifier train --data fashion-mnist
for net in $NETS; do
  # epochs: the same number of optimiser steps as the 10,000-image runs of docs/extended_map.md
  if [ "$net" = mlp ]; then d=8; ep=5; else d=64; ep=2; fi
  run=$OUT/fashion-mnist-$net$d
  if [ ! -f "$run/sampler.safetensors" ]; then
    rm -rf "$run"
    /usr/bin/time -v $AEOT run --data fashion-mnist --arch "$net" --latent-dim $d --epochs $ep \
      --sampler sdot --sampler-param tol=$TOL --sampler-param tol_max=$(echo "5 * $TOL" | bc -l) \
      --no-fid --out "$run" --device cpu 2>&1 | tee "$run.run.log"
    rm -f "$run/metrics.json"  # aeot run evaluates 1,000 samples; the record uses n = $N_EVAL
  fi
  [ -f "$run/metrics.json" ] || $AEOT evaluate "$run" --n "$N_EVAL" --device cpu 2>&1 | tee "$run.eval.log"
done
echo "all done"
