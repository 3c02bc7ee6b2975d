#!/bin/bash
# Resumable: each line of benchmarks/results/sdot_scale.jsonl is a finished case (skipped on a rerun).
# Order: the POT batch-size sweep on the small case, then time to p95 <= 0.1 at n = 10,000 and
# 30,000 (POT side by side at 1x aeot's time on n = 10,000, d = 8), then the largest sizes.
cd "$(dirname "$0")/.."
PY=${PY:-python}
OUT=benchmarks/results/sdot_scale.jsonl
mkdir -p benchmarks/results
$PY benchmarks/sdot_scale.py --threads 1 --out $OUT --cases 1000x64 --pot-batches 32,256,2048 --pot-factors 1,4
$PY benchmarks/sdot_scale.py --threads 1 --out $OUT --cases 10000x8 --pot-batches 32 --pot-factors 1
$PY benchmarks/sdot_scale.py --threads 1 --out $OUT --cases 10000x64,30000x8,30000x64,60000x8,60000x64 --pot-batches ""
$PY benchmarks/sdot_scale.py --threads 1 --out $OUT --cases "" --markdown docs/benchmarks/sdot-scale.md
