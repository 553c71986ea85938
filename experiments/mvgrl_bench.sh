#!/bin/sh
# Benchmark chain for MVGRL (one job at a time, 1 thread, nice). Run from the repo root.
set -x
export GRAPHREP_DATA=${GRAPHREP_DATA:-../shared/data}
R=experiments/results/mvgrl_runs
G="python -m graphrep"
$G bench --dataset Cora --split pygcn --seeds 0 1 2 3 4 --out-dir $R/Cora-pygcn-ppr --quiet --resume
$G eval  --dataset Cora --split pygcn --seeds 0 1 2 3 4 --out-dir $R/Cora-pygcn-ppr --quiet --protocol paper
$G bench --dataset Cora --split public --seeds 0 1 2 3 4 --out-dir $R/Cora-public-ppr --quiet --resume
$G eval  --dataset Cora --split public --seeds 0 1 2 3 4 --out-dir $R/Cora-public-ppr --quiet --protocol paper
$G bench --dataset MUTAG --out-dir $R/MUTAG-ppr --quiet --resume
$G bench --dataset CiteSeer --seeds 0 1 2 3 4 --out-dir $R/CiteSeer-public-ppr --quiet --resume
$G bench --dataset PTC_MR --out-dir $R/PTC_MR-ppr --quiet --resume
$G bench --dataset Cora --split pygcn --view heat --seeds 0 1 2 --out-dir $R/Cora-pygcn-heat --quiet --resume
$G bench --dataset IMDB-BINARY --out-dir $R/IMDB-BINARY-ppr --quiet --resume
$G bench --dataset IMDB-MULTI --out-dir $R/IMDB-MULTI-ppr --quiet --resume
$G bench --dataset Cora --split pygcn --seeds 5 6 7 8 9 --out-dir $R/Cora-pygcn-ppr-s5-9 --quiet --resume
