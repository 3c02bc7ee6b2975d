#!/bin/bash
# Issue 19, item 5: AE-OT with each extended-map mode on the same fitted codes, then AE-OT-GAN
# refined from the paper's map and from pyOMT's pairs (same epochs, same seed).
# Resumable: every step whose output exists is skipped on a rerun. One thread (the CPU is shared).
#
#   bash benchmarks/run_extended_map_codes.sh            # Fashion-MNIST (10,000 images) and digits
#   OUT=runs/modes SETS="digits" bash benchmarks/run_extended_map_codes.sh
#
# Logs and the Markdown tables go to $OUT/*.log; docs/extended_map.md quotes them.
set -euo pipefail
cd "$(dirname "$0")/.."
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1} MKL_NUM_THREADS=${MKL_NUM_THREADS:-1}
PY=${PY:-python}
AEOT="$PY -m aeot"
OUT=${OUT:-runs/modes}
SETS=${SETS:-"fashion-mnist digits"}
N_EVAL=${N_EVAL:-5000}
REFINE_EPOCHS=${REFINE_EPOCHS:-3}
# the budget preset of `aeot reproduce fashion-mnist` (experiments/reproduce.py): p95 mass error 0.3
SDOT="--sampler sdot --sampler-param tol=0.3 --sampler-param tol_max=1.0 --sampler-param max_samples=1048576 --sampler-param max_iter=60"
mkdir -p "$OUT"

evaluated() { [ -f "$1/metrics.json" ] && grep -q '"memorization"' "$1/metrics.json"; }

for data in $SETS; do
  if [ "$data" = digits ]; then sub=""; n=1000; mlp_ep=60; conv_ep=25; else sub="--n-train 10000"; n=$N_EVAL; mlp_ep=30; conv_ep=10; fi
  [ -f ~/.cache/aeot/classifiers/$data.safetensors ] || $AEOT classifier train --data "$data"
  for net in "mlp 8 $mlp_ep" "infogan 64 $conv_ep"; do
    set -- $net
    run=$OUT/$data-$1$2
    if [ ! -f "$run/sampler.safetensors" ]; then
      rm -rf "$run"
      $AEOT run --data "$data" $sub --arch "$1" --latent-dim "$2" --epochs "$3" $SDOT --no-fid --out "$run" --device cpu
      rm -f "$run/metrics.json"  # aeot run evaluates 1,000 samples; the table's rows use n = $n
    fi
    evaluated "$run" || $AEOT evaluate "$run" --n "$n" --device cpu
    log=$OUT/$data-$1$2.modes.log
    [ -f "$log" ] || { $PY benchmarks/extended_map_modes.py "$run" --modes pyomt-pairs,plain --n "$n" > "$log.tmp" \
                       && mv "$log.tmp" "$log"; }
  done
  # AE-OT-GAN from the InfoGAN run (the network 000 refines), once per map
  for mode in paper pyomt-pairs; do
    run=$OUT/$data-infogan64; [ "$mode" = paper ] || run=$run--$mode
    if [ ! -f "$run/refine/done" ]; then
      if [ -d "$run/refine" ]; then $AEOT refine "$run" --resume --device cpu --no-fid
      else $AEOT refine "$run" --epochs "$REFINE_EPOCHS" --seed 0 --device cpu --no-fid; fi
      touch "$run/refine/done"
    fi
    [ -f "$OUT/$data-refine-$mode.log" ] || \
      { $AEOT evaluate "$run" --generator refined --n "$n" --device cpu > "$OUT/$data-refine-$mode.log.tmp" \
        && mv "$OUT/$data-refine-$mode.log.tmp" "$OUT/$data-refine-$mode.log"; }
  done
done
echo "all done"
