#!/bin/sh
# Benchmark chain for MVGRL: one job at a time, one torch thread, defaults of
# the package (see graphrep/train.py and graphrep/cli.py for how they were
# chosen on validation nodes). Run from the repository root, e.g.
#   nice -n 10 sh experiments/mvgrl_bench.sh > /tmp/mvgrl_bench.log 2>&1 &
# Every step resumes (--resume), so the chain can be restarted after a kill; a step
# that fails stops the chain (later eval/select lines would read stale runs).
set -ex
export GRAPHREP_DATA=${GRAPHREP_DATA:-../shared/data}
R=experiments/results/mvgrl_runs
G="python -m graphrep"
S10="0 1 2 3 4 5 6 7 8 9"

# Node-level runs up to session 11 initialised the discriminator with Xavier of its
# D x D matrix; since session 12 the default is the release's 16x smaller scale
# (see the end of this file), so their lines pass --discriminator-init xavier.
# Likewise, Cora's PPR teleport alpha has been 0.15 by default since session 31 (the end of
# this file): the Cora PPR runs before it pass --alpha 0.2, the paper's value. Since session
# 34 Cora's defaults are per split (pygcn: top-256 at 0.15; public: top-64 at 0.2, trained
# on one random 2000-node subgraph per step, the end of this file), so the public split's
# runs at top-256 or 0.15 pass --topk 256 / --alpha 0.15, and its full-batch runs
# --full-batch (what they trained with the default of then, unnamed in their config.json).
# Node level: Cora on the paper's (pygcn) split and on the Planetoid public split,
# honest protocol (probe C chosen on validation nodes) then the release's probe.
$G bench --dataset Cora --alpha 0.2 --topk 64 --discriminator-init xavier --split pygcn  --seeds $S10 --out-dir $R/Cora-pygcn-ppr  --quiet --resume
$G eval  --dataset Cora --alpha 0.2 --topk 64 --discriminator-init xavier --split pygcn  --seeds $S10 --out-dir $R/Cora-pygcn-ppr  --quiet --protocol paper
$G bench --dataset Cora --full-batch --alpha 0.2 --topk 64 --discriminator-init xavier --split public --seeds $S10 --out-dir $R/Cora-public-ppr --quiet --resume
$G eval  --dataset Cora --full-batch --alpha 0.2 --topk 64 --discriminator-init xavier --split public --seeds $S10 --out-dir $R/Cora-public-ppr --quiet --protocol paper
# (CiteSeer's first run, on seeds 0-4, grew to 10 seeds: its lines are further down;
# running them here with 5 seeds would write a 5-seed results.json over the 10-seed one.)
# The release's own hyperparameters, fixed in advance (not chosen here): adjacency view
# A + 2I, 4 random subgraphs of 2000 nodes per step, early stopping on the training loss
# with patience 20 (at most 3000 epochs). PPR kept to its top 256 entries per node: the
# release's dense view trains too slowly through the sparse subgraph path for 10 seeds here.
# (session 8; 8-12 minutes per seed on the shared machine.)
$G bench --dataset Cora --alpha 0.2 --discriminator-init xavier --split pygcn --topk 256 --self-loop-weight 2 --no-full-batch --batch-size 4 --sample-size 2000 --epochs 3000 --patience 20 --seeds $S10 --out-dir $R/Cora-pygcn-ppr-release-top256 --quiet --resume
$G eval --protocol paper --dataset Cora --alpha 0.2 --discriminator-init xavier --split pygcn --topk 256 --self-loop-weight 2 --no-full-batch --batch-size 4 --sample-size 2000 --epochs 3000 --patience 20 --seeds $S10 --out-dir $R/Cora-pygcn-ppr-release-top256 --quiet
# The same with the release's exact, unsparsified PPR view (--topk 0), on both splits:
# since session 9 training holds such a view dense and multiplies [4, 2000, 2000] blocks
# (experiments/bench_node_views.py), which made it practical.
REL="--topk 0 --self-loop-weight 2 --no-full-batch --batch-size 4 --sample-size 2000 --epochs 3000 --patience 20 --seeds $S10"
for SPLIT in pygcn public; do
  $G bench --dataset Cora --alpha 0.2 --discriminator-init xavier --split $SPLIT $REL --out-dir $R/Cora-$SPLIT-ppr-release-dense --quiet --resume
  $G eval --protocol paper --dataset Cora --alpha 0.2 --discriminator-init xavier --split $SPLIT $REL --out-dir $R/Cora-$SPLIT-ppr-release-dense --quiet
done
# Ablation (session 10): the same, with the release's contiguous index windows instead of
# random node subsets (--subsets windows), to test whether its sampler explains the gap to
# 86.8. Two halves of the seeds, run side by side; mvgrl_table.py pools them.
RELW="--topk 0 --self-loop-weight 2 --no-full-batch --batch-size 4 --sample-size 2000 --epochs 3000 --patience 20 --subsets windows"
for HALF in "0 1 2 3 4:s0-4" "5 6 7 8 9:s5-9"; do
  $G bench --dataset Cora --alpha 0.2 --discriminator-init xavier --split pygcn $RELW --seeds ${HALF%%:*} --out-dir $R/Cora-pygcn-ppr-release-windows-${HALF##*:} --quiet --resume
  $G eval --protocol paper --dataset Cora --alpha 0.2 --discriminator-init xavier --split pygcn $RELW --seeds ${HALF%%:*} --out-dir $R/Cora-pygcn-ppr-release-windows-${HALF##*:} --quiet
done
# PPR vs heat kernel on both Cora splits.
# (3 seeds until session 6, then extended to the 10 the node-level protocol asks for;
# the public split added in session 6.)
$G bench --dataset Cora --discriminator-init xavier --split pygcn --view heat --topk 64 --seeds $S10 --out-dir $R/Cora-pygcn-heat --quiet --resume
$G bench --dataset Cora --full-batch --discriminator-init xavier --split public --view heat --topk 64 --seeds $S10 --out-dir $R/Cora-public-heat --quiet --resume

# Graph level, honest protocol (C by inner CV), 5 seeds. The shared SVC
# probe (10 outer x 5 inner folds x 7 C, LinearSVC max_iter 1000 as in the
# release) dominates the cost: about 30 s per seed on MUTAG, 3-4 min on
# PTC_MR on the shared 2-core machine, more on the IMDB sets.
# MUTAG, PTC_MR and IMDB-BINARY were retrained in session 18: their first embeddings (2b079eb)
# came from older code that today's does not reproduce (experiments/reproduction_audit.py).
for D in MUTAG PTC_MR IMDB-BINARY IMDB-MULTI; do
  $G bench --dataset $D --graph-embedding encoder --out-dir $R/$D-ppr --quiet --resume
done

# PPR vs heat kernel at graph level (session 6; the release never ran a heat view).
for D in MUTAG PTC_MR; do
  $G bench --dataset $D --view heat --graph-embedding encoder --out-dir $R/$D-heat --quiet --resume
done

# The view chosen honestly (session 8): per seed and outer fold, PPR or heat by the
# inner-CV score of each run's probe (`graphrep select`; test folds take no part).
for D in MUTAG PTC_MR; do
  $G select --runs $R/$D-ppr $R/$D-heat --out experiments/results/mvgrl_select/$D-ppr-or-heat.json
done

# The evaluation embedding (session 11): the release and DGL's example evaluate the
# graph head's outputs f(h_G^adj) + f(h_G^diff) (512 wide), not the encoders' readouts
# (L x 512) that the runs above keep (written before the option, hence
# --graph-embedding encoder on their lines); same training, same seeds. The head
# output is the default since.
for D in MUTAG PTC_MR IMDB-BINARY IMDB-MULTI; do
  $G bench --dataset $D --graph-embedding head --out-dir $R/$D-ppr-head --quiet --resume
done
# Encoder readout or head output chosen per outer fold by inner CV (the evidence the
# default rests on, with the release's own choice), and the view chosen likewise on
# head outputs; heat-kernel view on head outputs first.
for D in MUTAG PTC_MR; do
  $G bench --dataset $D --view heat --out-dir $R/$D-heat-head --quiet --resume
  $G select --runs $R/$D-ppr $R/$D-ppr-head --out experiments/results/mvgrl_select/$D-encoder-or-head.json
  $G select --runs $R/$D-ppr-head $R/$D-heat-head --out experiments/results/mvgrl_select/$D-ppr-or-heat-head.json
done
# IMDB-MULTI likewise (session 12): its encoder-readout run's probe records predated the
# stored inner-CV scores, so the run line above re-trained (bit for bit) and re-probed it.
$G select --runs $R/IMDB-MULTI-ppr $R/IMDB-MULTI-ppr-head --out experiments/results/mvgrl_select/IMDB-MULTI-encoder-or-head.json
# What the release trains (an ablation): its GCN layers sit in a Python list, so only
# the heads learn; the encoders keep their initial weights, evaluated on the heads.
for D in MUTAG PTC_MR; do
  $G bench --dataset $D --graph-embedding head --frozen-encoders --out-dir $R/$D-ppr-frozen-head --quiet --resume
done

# CiteSeer to 10 seeds (reuses seeds 0-4). Its default diffusion is the release's
# (eps 0.01 + column min-max, chosen on validation nodes over top-64); top-64 for comparison.
$G bench --dataset CiteSeer --discriminator-init xavier --seeds $S10 --out-dir $R/CiteSeer-public-ppr --quiet --resume
$G eval  --dataset CiteSeer --discriminator-init xavier --seeds $S10 --out-dir $R/CiteSeer-public-ppr --quiet --protocol paper
$G bench --dataset CiteSeer --discriminator-init xavier --topk 64 --seeds $S10 --out-dir $R/CiteSeer-public-ppr-top64 --quiet --resume
$G eval  --dataset CiteSeer --discriminator-init xavier --topk 64 --seeds $S10 --out-dir $R/CiteSeer-public-ppr-top64 --quiet --protocol paper

# REDDIT-BINARY (2000 graphs, ~430 nodes, up to 3782): dense per-graph PPR
# would keep ~1e9 entries, so the diffusion is cut to the top 32 per node
# (fixed in advance). One seed: diffusion ~6 min, then several minutes per
# epoch on a loaded core; --resume continues from the last checkpoint (one per epoch).
$G bench --dataset REDDIT-BINARY --seeds 0 --topk 32 --graph-embedding encoder --out-dir $R/REDDIT-BINARY-ppr-s0 --quiet --resume
# Seeds 1-4 in their own directory (same config; mvgrl_table.py pools the two into one row).
$G bench --dataset REDDIT-BINARY --seeds 1 2 3 4 --topk 32 --graph-embedding encoder --out-dir $R/REDDIT-BINARY-ppr-s1-4 --quiet --resume
# The default embedding (head outputs) on REDDIT-BINARY, started in session 15 (~2 h per
# seed on one core; a checkpoint every epoch, so it resumes across sessions).
$G bench --dataset REDDIT-BINARY --seeds 0 --topk 32 --out-dir $R/REDDIT-BINARY-ppr-head-s0 --quiet --resume
# Seeds 1-4 of the same (started in session 16, in their own directory; pooled with s0).
# (session 17: split in two, so that two processes can train at once; ~2.5 h per seed each here)
$G bench --dataset REDDIT-BINARY --seeds 1 2 --topk 32 --out-dir $R/REDDIT-BINARY-ppr-head-s1-2 --quiet --resume
$G bench --dataset REDDIT-BINARY --seeds 3 4 --topk 32 --out-dir $R/REDDIT-BINARY-ppr-head-s3-4 --quiet --resume

# Paper protocol on a reduced grid of the release's sweep (layers {2, 8} x batch
# {32, 128}, 20 epochs; the release: layers {2, 8, 12} x batch {32, 64, 128, 256}
# x epochs {20, 40, 100}). One run gives both protocols: honest = config and C
# chosen per outer fold by inner CV; paper = best mean test-fold accuracy
# (derived from the same probes by mvgrl_table.py).
$G bench --dataset MUTAG --layers 2 8 --batch-size 32 128 --epochs 20 --graph-embedding encoder --out-dir $R/MUTAG-ppr-sweep --quiet --resume
$G bench --dataset PTC_MR --layers 2 8 --batch-size 32 128 --epochs 20 --graph-embedding encoder --out-dir $R/PTC_MR-ppr-sweep --quiet --resume
$G bench --dataset IMDB-BINARY --layers 2 8 --batch-size 32 128 --epochs 20 --graph-embedding encoder --out-dir $R/IMDB-BINARY-ppr-sweep --quiet --resume
# IMDB-MULTI likewise (session 7; its L2-B128-E20 cell is the default run's, whose
# embeddings and checkpoints were copied from $R/IMDB-MULTI-ppr into the sweep directory).
# Session 10 trained and probed its last 5 cells in scratch dirs with the same options,
#   $G bench --dataset IMDB-MULTI --epochs 20 --layers 8 --batch-size 32 128 --seeds 0 --out-dir /tmp/imdbm_s0
#   $G bench --dataset IMDB-MULTI --epochs 20 --layers 8 --batch-size 128 --seeds 1 2 3 --out-dir /tmp/imdbm_s123
# copied their seed dirs in and ran `$G eval` with the line's options to rewrite results.json;
# its other 15 probe records predate the embedding digest, so a fresh clone re-running this
# line re-probes them.
$G bench --dataset IMDB-MULTI --layers 2 8 --batch-size 32 128 --epochs 20 --graph-embedding encoder --out-dir $R/IMDB-MULTI-ppr-sweep --quiet --resume

# Paper protocol on head outputs (the default since session 11), same reduced grid.
# IMDB-BINARY's L2-B128-E20 cell was copied (cp -rp) from $R/IMDB-BINARY-ppr-head, which
# was trained with the same options.
for D in MUTAG PTC_MR IMDB-BINARY; do
  $G bench --dataset $D --layers 2 8 --batch-size 32 128 --epochs 20 --out-dir $R/$D-ppr-head-sweep --quiet --resume
done
# IMDB-MULTI likewise (started in session 15; its L2-B128-E20 cell copied with cp -rp from
# $R/IMDB-MULTI-ppr-head; a probe takes ~15 min per (config, seed) here).
$G bench --dataset IMDB-MULTI --layers 2 8 --batch-size 32 128 --epochs 20 --out-dir $R/IMDB-MULTI-ppr-head-sweep --quiet --resume
# Encoder readout or head output, together with the configuration, per outer fold by inner CV.
for D in MUTAG PTC_MR IMDB-BINARY IMDB-MULTI; do
  $G select --runs $R/$D-ppr-sweep $R/$D-ppr-head-sweep --out experiments/results/mvgrl_select/$D-grid-encoder-or-head.json
done

# Session 12. The release initialises its discriminator with xavier_uniform_ on
# nn.Bilinear's [1, 512, 512] weight, whose fans (512 x 512 in, 512 out) make it 16x
# smaller than Xavier of the 512 x 512 matrix that this package drew before. Chosen on
# validation nodes (Cora pygcn 86.10 vs 85.60, public 81.86 vs 81.72; same 10 seeds),
# it is the default since; the default runs again, in new directories.
$G bench --dataset Cora --alpha 0.2 --topk 64 --split pygcn --out-dir $R/Cora-pygcn-ppr-bilinear-init --quiet --resume
$G eval --dataset Cora --alpha 0.2 --topk 64 --split pygcn --out-dir $R/Cora-pygcn-ppr-bilinear-init --quiet --protocol paper
$G bench --dataset Cora --full-batch --alpha 0.2 --topk 64 --split public --out-dir $R/Cora-public-ppr-bilinear-init --quiet --resume
$G eval --dataset Cora --full-batch --alpha 0.2 --topk 64 --split public --out-dir $R/Cora-public-ppr-bilinear-init --quiet --protocol paper
$G bench --dataset CiteSeer --out-dir $R/CiteSeer-public-ppr-bilinear-init --quiet --resume
$G eval --dataset CiteSeer --out-dir $R/CiteSeer-public-ppr-bilinear-init --quiet --protocol paper

# Graph level, DGL's example settings as its README runs them, fixed in advance (not
# chosen here): MUTAG 4 layers x 32, batch 64, 20 epochs; PTC_MR 4 x 128, batch 64,
# 32 epochs; IMDB 2 x 512, batch 64, 20 epochs. Head output, as DGL evaluates.
$G bench --dataset MUTAG --layers 4 --hidden 32 --batch-size 64 --epochs 20 --out-dir $R/MUTAG-ppr-head-dgl --quiet --resume
$G bench --dataset PTC_MR --layers 4 --hidden 128 --batch-size 64 --epochs 32 --out-dir $R/PTC_MR-ppr-head-dgl --quiet --resume
$G bench --dataset IMDB-BINARY --layers 2 --hidden 512 --batch-size 64 --epochs 20 --out-dir $R/IMDB-BINARY-ppr-head-dgl --quiet --resume
$G bench --dataset IMDB-MULTI --layers 2 --hidden 512 --batch-size 64 --epochs 20 --out-dir $R/IMDB-MULTI-ppr-head-dgl --quiet --resume
$G bench --dataset MUTAG --view heat --layers 4 --hidden 32 --batch-size 64 --epochs 20 --out-dir $R/MUTAG-heat-head-dgl --quiet --resume
$G bench --dataset PTC_MR --view heat --layers 4 --hidden 128 --batch-size 64 --epochs 32 --out-dir $R/PTC_MR-heat-head-dgl --quiet --resume
# Our default or DGL's settings (and, on MUTAG and PTC_MR, the view too) chosen per
# outer fold by inner CV: an honest protocol over configurations fixed in advance.
for D in MUTAG PTC_MR IMDB-BINARY IMDB-MULTI; do
  $G select --runs $R/$D-ppr-head $R/$D-ppr-head-dgl --out experiments/results/mvgrl_select/$D-default-or-dgl.json
done
for D in MUTAG PTC_MR; do
  $G select --runs $R/$D-ppr-head $R/$D-heat-head $R/$D-ppr-head-dgl $R/$D-heat-head-dgl --out experiments/results/mvgrl_select/$D-view-and-default-or-dgl.json
done

# The release's hyperparameters (as above: PPR top-256, A + 2I, 4 random 2000-node
# subgraphs per step, early stopping with patience 20) with the release's discriminator
# init, the default since session 12. Halves of the seeds run side by side;
# mvgrl_table.py pools them. Then the heat-kernel view at the new defaults.
RELSCHED="--self-loop-weight 2 --no-full-batch --batch-size 4 --sample-size 2000 --epochs 3000 --patience 20"
REL256="--topk 256 $RELSCHED"
for SPLIT in pygcn public; do
  for HALF in "0 1 2 3 4:s0-4" "5 6 7 8 9:s5-9"; do
    OUT=$R/Cora-$SPLIT-ppr-release-top256-bilinear-init-${HALF##*:}
    $G bench --dataset Cora --alpha 0.2 --split $SPLIT $REL256 --seeds ${HALF%%:*} --out-dir $OUT --quiet --resume
    $G eval --protocol paper --dataset Cora --alpha 0.2 --split $SPLIT $REL256 --seeds ${HALF%%:*} --out-dir $OUT --quiet
  done
done
for SPLIT in pygcn public; do
  $G bench --dataset Cora --full-batch --split $SPLIT --view heat --topk 64 --out-dir $R/Cora-$SPLIT-heat-bilinear-init --quiet --resume
done

# Session 13: CiteSeer with the release's schedule as well (its diffusion, eps 0.01 +
# column min-max, is already CiteSeer's default): A + 2I, 4 random 2000-node subgraphs
# per step, early stopping with patience 20, with the release's discriminator init
# ($RELSCHED, above).
for HALF in "0 1 2 3 4:s0-4" "5 6 7 8 9:s5-9"; do
  $G bench --dataset CiteSeer $RELSCHED --seeds ${HALF%%:*} --out-dir $R/CiteSeer-public-release-schedule-${HALF##*:} --quiet --resume
  $G eval --protocol paper --dataset CiteSeer $RELSCHED --seeds ${HALF%%:*} --out-dir $R/CiteSeer-public-release-schedule-${HALF##*:} --quiet
done
# The heat-kernel view where it had not run: CiteSeer (top-64: CiteSeer's eps + min-max
# preset is PPR's only) and the IMDB sets on head outputs, then PPR or heat per fold.
$G bench --dataset CiteSeer --view heat --out-dir $R/CiteSeer-public-heat-bilinear-init --quiet --resume
for D in IMDB-BINARY IMDB-MULTI; do
  $G bench --dataset $D --view heat --out-dir $R/$D-heat-head --quiet --resume
  $G select --runs $R/$D-ppr-head $R/$D-heat-head --out experiments/results/mvgrl_select/$D-ppr-or-heat-head.json
done
# A larger share of the release's sweep on the small sets, head outputs: layers {2, 8, 12}
# x batch {32, 64, 128, 256} at 20 epochs (12 of its 36 configs). The four cells of the
# reduced grid were copied (cp -rp) from $R/$D-ppr-head-sweep, trained with the same options.
for D in MUTAG PTC_MR; do
  $G bench --dataset $D --layers 2 8 12 --batch-size 32 64 128 256 --epochs 20 --out-dir $R/$D-ppr-head-sweep12 --quiet --resume
done
# The release's whole sweep (session 14): epochs {20, 40, 100} too, 36 configs. Each
# (layers, batch, seed) trains once, to 100 epochs, and writes its 40-epoch cell on the
# way (the same embedding a 40-epoch run writes). The 20-epoch cells are the -sweep12
# runs' (embedding.pt and svc.json copied; same options, so --resume keeps them).
# Session 15 split PTC_MR's L12-B64/B128/B256 cells off to a second process (same
# options, --layers 12 --batch-size 256 128 64, its own --out-dir; finished seed
# directories copied in before this run reached them, which --resume then keeps), so
# its results.json `seconds` counts this process only.
for D in MUTAG PTC_MR; do
  $G bench --dataset $D --layers 2 8 12 --batch-size 32 64 128 256 --epochs 20 40 100 --out-dir $R/$D-ppr-head-sweep36 --quiet --resume
done
# Control (session 14): the same probe on untrained encoders and heads (--epochs 0: the
# seeds' initial weights), to show what the contrastive training adds.
for D in MUTAG PTC_MR IMDB-BINARY IMDB-MULTI; do
  $G bench --dataset $D --epochs 0 --out-dir $R/$D-ppr-head-untrained --quiet --resume
done
# The same control at node level (session 15): untrained GCN encoders, the same probe.
$G bench --dataset Cora --alpha 0.2 --topk 64 --split pygcn --epochs 0 --out-dir $R/Cora-pygcn-ppr-untrained --quiet --resume
$G bench --dataset Cora --full-batch --alpha 0.2 --topk 64 --epochs 0 --out-dir $R/Cora-public-ppr-untrained --quiet --resume
$G bench --dataset CiteSeer --epochs 0 --out-dir $R/CiteSeer-public-ppr-untrained --quiet --resume
# Session 23: one PReLU slope per activation (the release's nn.PReLU()) instead of one per
# channel, everything else at the defaults. The rule, fixed before these ran: a node-level
# set switches to the shared slope only if its validation accuracy beats the default run's
# by more than 0.25 on its own split; at graph level both runs go through select, per fold,
# and the default switches only if the shared slope wins more folds than it loses on both.
$G bench --dataset Cora --alpha 0.2 --topk 64 --split pygcn --prelu shared --out-dir $R/Cora-pygcn-ppr-prelu-shared --quiet --resume
$G eval --dataset Cora --alpha 0.2 --topk 64 --split pygcn --prelu shared --out-dir $R/Cora-pygcn-ppr-prelu-shared --quiet --protocol paper
$G bench --dataset Cora --full-batch --alpha 0.2 --topk 64 --split public --prelu shared --out-dir $R/Cora-public-ppr-prelu-shared --quiet --resume
$G eval --dataset Cora --full-batch --alpha 0.2 --topk 64 --split public --prelu shared --out-dir $R/Cora-public-ppr-prelu-shared --quiet --protocol paper
$G bench --dataset CiteSeer --prelu shared --out-dir $R/CiteSeer-public-ppr-prelu-shared --quiet --resume
$G eval --dataset CiteSeer --prelu shared --out-dir $R/CiteSeer-public-ppr-prelu-shared --quiet --protocol paper
for D in MUTAG PTC_MR; do
  $G bench --dataset $D --prelu shared --out-dir $R/$D-ppr-head-prelu-shared --quiet --resume
  $G select --runs $R/$D-ppr-head $R/$D-ppr-head-prelu-shared --out experiments/results/mvgrl_select/$D-prelu-channel-or-shared.json
done
# Session 27: Cora's PPR view keeps its top 256 entries per node by default (the runs above
# that relied on the earlier default, top-64, now say --topk 64). The rule, fixed before the
# sweep: top-256 (A + I, or A + 2I) replaces top-64 only if its validation accuracy, each at
# its best of 50-200 full-batch steps, beats top-64's by more than 0.25 on pygcn (seeds 0-4)
# and falls no more than 0.25 below it on the public split's own validation nodes (seeds
# 0-9), one seed staying under 60 s: top-256 with A + I did (pygcn 86.53 vs 86.07, public
# 82.24 vs 82.10; A + 2I tied on pygcn, 86.20). The sweep:
#   python experiments/mvgrl_tune.py --dataset Cora --split pygcn --set "full_batch=1,disc=bilinear,epochs=200,eval_at=50:100:150:200" --set "full_batch=1,disc=bilinear,topk=256,epochs=200,eval_at=50:100:150:200" --set "full_batch=1,disc=bilinear,topk=256,self_loop=2,epochs=200,eval_at=50:100:150:200" --seeds 0 1 2 3 4
#   python experiments/mvgrl_tune.py --dataset Cora --split public --set "full_batch=1,disc=bilinear,topk=256,epochs=200,eval_at=50:100:150:200" --seeds 0 1 2 3 4 5 6 7 8 9
# CiteSeer's preset re-checked the same way (another view only if more than 0.25 above it on
# validation, seeds 0-4): 73.88 against top-256 72.84 and top-64 73.28, so it stands:
#   python experiments/mvgrl_tune.py --dataset CiteSeer --split public --set "full_batch=1,disc=bilinear,topk=None,eps=0.01,colscale=1,epochs=200,eval_at=50:100:150:200" --set "full_batch=1,disc=bilinear,topk=256,epochs=200,eval_at=50:100:150:200" --set "full_batch=1,disc=bilinear,epochs=200,eval_at=50:100:150:200" --seeds 0 1 2 3 4
# The default runs again, in new directories:
for SPLIT in pygcn public; do
  $G bench --dataset Cora --full-batch --alpha 0.2 --split $SPLIT --topk 256 --out-dir $R/Cora-$SPLIT-ppr-top256 --quiet --resume
  $G eval --dataset Cora --full-batch --alpha 0.2 --split $SPLIT --topk 256 --out-dir $R/Cora-$SPLIT-ppr-top256 --quiet --protocol paper
done
# The heat kernel at the same cut, for a like-for-like comparison with the PPR default (the
# heat view's own default was still top-64 then; since session 28, below, these are its
# Cora default runs, on the public split until session 34's schedule: Cora-public-heat-subgraph).
for SPLIT in pygcn public; do
  $G bench --dataset Cora --full-batch --split $SPLIT --view heat --topk 256 --out-dir $R/Cora-$SPLIT-heat-top256 --quiet --resume
done
# Session 28: the node-level controls again at today's Cora default (PPR top-256): untrained
# encoders, and the release's one shared PReLU slope (per-channel stays the default unless
# the shared slope's validation accuracy beats it by more than 0.25 on its own split; it
# tied: pygcn 86.67 vs 86.73, public 82.06 vs 82.06).
for SPLIT in pygcn public; do
  $G bench --dataset Cora --full-batch --alpha 0.2 --split $SPLIT --topk 256 --epochs 0 --out-dir $R/Cora-$SPLIT-ppr-top256-untrained --quiet --resume
done
for SPLIT in pygcn public; do
  $G bench --dataset Cora --full-batch --alpha 0.2 --split $SPLIT --topk 256 --prelu shared --out-dir $R/Cora-$SPLIT-ppr-top256-prelu-shared --quiet --resume
  $G eval --dataset Cora --full-batch --alpha 0.2 --split $SPLIT --topk 256 --prelu shared --out-dir $R/Cora-$SPLIT-ppr-top256-prelu-shared --quiet --protocol paper
done
# Session 28: the heat view's own Cora default re-decided on validation nodes, under a rule
# fixed before the sweep (the same as session 27's for PPR): top-256 replaces top-64 only if
# more than 0.25 above it on pygcn (seeds 0-4), not more than 0.25 below on the public split's
# own (seeds 0-9), each at its best of 50-200 full-batch steps, one seed under 60 s. It did:
# pygcn 86.33 vs 85.27, public 82.00 vs 81.34; one pygcn seed 46.0 s wall, 724 MiB
# (experiments/results/cora_heat_one_seed_time.txt). So Cora's heat view keeps its top 256
# entries per node by default (NODE_HEAT_DEFAULTS in graphrep/cli.py); its runs are the
# Cora-*-heat-top256 ones above. The sweep:
#   python experiments/mvgrl_tune.py --dataset Cora --split pygcn --set "view=heat,full_batch=1,disc=bilinear,epochs=200,eval_at=50:100:150:200" --set "view=heat,full_batch=1,disc=bilinear,topk=256,epochs=200,eval_at=50:100:150:200" --seeds 0 1 2 3 4
#   python experiments/mvgrl_tune.py --dataset Cora --split public --set "view=heat,full_batch=1,disc=bilinear,epochs=200,eval_at=50:100:150:200" --set "view=heat,full_batch=1,disc=bilinear,topk=256,epochs=200,eval_at=50:100:150:200" --seeds 0 1 2 3 4 5 6 7 8 9
# And PPR's cut once more, one step further (same rule against the top-256 default): top-512
# scored 86.67 on pygcn validation (seeds 0-4), 0.14 above top-256's 86.53: a tie, so
# top-256 stands and the public split was not run:
#   python experiments/mvgrl_tune.py --dataset Cora --split pygcn --set "full_batch=1,disc=bilinear,topk=512,epochs=200,eval_at=50:100:150:200" --seeds 0 1 2 3 4
# Session 29: the heat kernel's transition T in exp(t T - t I) (--heat-transition): the
# paper's A D^-1 ("col", the default), PyG GDC's D^-1/2 A D^-1/2 ("sym"), or D^-1 A ("row",
# rows summing to 1). Rule fixed before the sweep: another transition replaces col as Cora's
# heat default only if more than 0.25 above it on pygcn validation (seeds 0-4, best of 50-200
# full-batch steps, top-256) and not more than 0.25 below on the public split's own. Pygcn
# validation: sym 86.46 (100 steps), row 85.33 (100), col 86.33 (150; session 28's records):
# a tie and a loss, so col stays and the public split was not run:
#   python experiments/mvgrl_tune.py --dataset Cora --split pygcn --set "view=heat,full_batch=1,disc=bilinear,topk=256,heat_tr=sym,epochs=200,eval_at=50:100:150:200" --set "view=heat,full_batch=1,disc=bilinear,topk=256,heat_tr=row,epochs=200,eval_at=50:100:150:200" --seeds 0 1 2 3 4
# Measured at the defaults anyway (not chosen: a measurement of what the paper's A D^-1 costs
# or gives on test): GDC's sym transition over 10 seeds on both splits.
for SPLIT in pygcn public; do
  $G bench --dataset Cora --full-batch --split $SPLIT --view heat --heat-transition sym --out-dir $R/Cora-$SPLIT-heat-top256-sym --quiet --resume
done
# At graph level (rule fixed before too: a transition replaces col only if it wins more outer
# folds than col, by inner CV, on both MUTAG and PTC_MR):
for D in MUTAG PTC_MR; do
  for TR in sym row; do
    $G bench --dataset $D --view heat --heat-transition $TR --out-dir $R/$D-heat-head-$TR --quiet --resume
    $G select --runs $R/$D-heat-head $R/$D-heat-head-$TR --out experiments/results/mvgrl_select/$D-heat-col-or-$TR.json
  done
  $G select --runs $R/$D-heat-head $R/$D-heat-head-sym $R/$D-heat-head-row --out experiments/results/mvgrl_select/$D-heat-transition.json
done
# Session 31: PPR's teleport probability alpha, fixed at 0.2 by the paper and never chosen
# here. Rule fixed before the sweep (the same as sessions 27-29's): another alpha replaces
# 0.2 as Cora's PPR default only if its validation accuracy (`val sel`, each at its best of
# 50-200 full-batch steps, top-256, release discriminator init) beats 0.2's by more than
# 0.25 on pygcn (seeds 0-4; 0.2's records: 86.53 at 100 steps) and falls no more than 0.25
# below it on the public split's own validation nodes (seeds 0-9; 0.2's: 82.24 at 150), one
# seed staying under 60 s. The public split runs only for an alpha that passes on pygcn; of
# several that pass, the highest on pygcn. The sweep (alpha 0.1, 0.15, 0.3):
#   python experiments/mvgrl_tune.py --dataset Cora --split pygcn --set "full_batch=1,disc=bilinear,topk=256,alpha=0.1,epochs=200,eval_at=50:100:150:200" --set "full_batch=1,disc=bilinear,topk=256,alpha=0.15,epochs=200,eval_at=50:100:150:200" --set "full_batch=1,disc=bilinear,topk=256,alpha=0.3,epochs=200,eval_at=50:100:150:200" --seeds 0 1 2 3 4
# Result: pygcn validation (val sel, best of 50-200 steps) 0.15: 86.80 (100 steps), 0.1:
# 86.33 (50), 0.3: 86.07 (100), against 0.2's 86.53: only 0.15 passes (+0.27). Public
# (seeds 0-9): 0.15 scores 82.10 (100 and 150 steps) against 0.2's 82.24, within 0.25: it
# passes. So Cora's node-level PPR view takes alpha 0.15 by default (NODE_PPR_ALPHA in
# graphrep/cli.py; top-256 and the 100-step cap unchanged). The test accuracies the sweep
# logged (standardised probe, 100 steps; never read by the rule) hardly moved: pygcn 86.48
# vs 86.54, public 83.58 vs 83.60. The public sweep:
#   python experiments/mvgrl_tune.py --dataset Cora --split public --set "full_batch=1,disc=bilinear,topk=256,alpha=0.15,epochs=200,eval_at=50:100:150:200" --seeds 0 1 2 3 4 5 6 7 8 9
# The default runs at alpha 0.15, both splits:
for SPLIT in pygcn public; do
  $G bench --dataset Cora --full-batch --alpha 0.15 --split $SPLIT --topk 256 --out-dir $R/Cora-$SPLIT-ppr-alpha015 --quiet --resume
  $G eval --dataset Cora --full-batch --alpha 0.15 --split $SPLIT --topk 256 --out-dir $R/Cora-$SPLIT-ppr-alpha015 --quiet --protocol paper
done
# and the untrained-encoder control at that default:
for SPLIT in pygcn public; do
  $G bench --dataset Cora --full-batch --alpha 0.15 --split $SPLIT --topk 256 --epochs 0 --out-dir $R/Cora-$SPLIT-ppr-alpha015-untrained --quiet --resume
done
# Session 31, two more alpha sweeps, rules fixed before they ran (committed first):
# CiteSeer: another alpha replaces 0.2 as CiteSeer's PPR default only if its validation
# accuracy (val sel, best of 50-200 full-batch steps, its preset eps 0.01 + column min-max,
# release discriminator init; seeds 0-4) beats 0.2's 73.88 (100 steps) by more than 0.25, one
# seed staying under 60 s. Sweep (alpha 0.1, 0.15, 0.3):
#   python experiments/mvgrl_tune.py --dataset CiteSeer --split public --set "full_batch=1,disc=bilinear,topk=None,eps=0.01,colscale=1,alpha=0.1,epochs=200,eval_at=50:100:150:200" --set "full_batch=1,disc=bilinear,topk=None,eps=0.01,colscale=1,alpha=0.15,epochs=200,eval_at=50:100:150:200" --set "full_batch=1,disc=bilinear,topk=None,eps=0.01,colscale=1,alpha=0.3,epochs=200,eval_at=50:100:150:200" --seeds 0 1 2 3 4
# Graph level (the rule of session 29's transitions): an alpha replaces 0.2 only if it wins
# more outer folds than 0.2, by inner CV (graphrep select), on both MUTAG and PTC_MR (head
# output, dense PPR, 5 seeds); of several, the one with the most wins summed over both.
for D in MUTAG PTC_MR; do
  for A in 0.1:010 0.15:015 0.3:030; do
    $G bench --dataset $D --alpha ${A%%:*} --out-dir $R/$D-ppr-head-alpha${A##*:} --quiet --resume
    $G select --runs $R/$D-ppr-head $R/$D-ppr-head-alpha${A##*:} --out experiments/results/mvgrl_select/$D-alpha020-or-${A##*:}.json
  done
done
# Results of both: CiteSeer validation 0.15: 73.88 (100 steps), 0.3: 73.68, 0.1: 73.32, against
# 0.2's 73.88: no alpha passes, 0.2 stays. Graph level, folds won against 0.2 (0.2's first):
# MUTAG 0.1 18-9, 0.15 10-9, 0.3 20-5; PTC_MR 0.1 24-21, 0.15 20-24, 0.3 27-20 (ties aside):
# only 0.15 on PTC_MR wins, none on both, so 0.2 stays (mvgrl_select/*-alpha020-or-*.json).
# Session 31: the heat kernel's time t, fixed at 5 by the paper and never chosen here. Rule
# fixed before the sweep (the same as for alpha): another t replaces 5 as Cora's heat default
# only if its validation accuracy (val sel, best of 50-200 full-batch steps, top-256, the
# paper's transition) beats 5's by more than 0.25 on pygcn (seeds 0-4; t = 5's records, session
# 28: 86.33 at 150 steps) and falls no more than 0.25 below it on the public split's own
# (seeds 0-9; 82.00 at 200), one seed staying under 60 s; the public split runs only for the
# t highest on pygcn among those that pass there. The sweep (t 2, 3, 7, 10):
#   python experiments/mvgrl_tune.py --dataset Cora --split pygcn --set "view=heat,full_batch=1,disc=bilinear,topk=256,t=2,epochs=200,eval_at=50:100:150:200" --set "view=heat,full_batch=1,disc=bilinear,topk=256,t=3,epochs=200,eval_at=50:100:150:200" --set "view=heat,full_batch=1,disc=bilinear,topk=256,t=7,epochs=200,eval_at=50:100:150:200" --set "view=heat,full_batch=1,disc=bilinear,topk=256,t=10,epochs=200,eval_at=50:100:150:200" --seeds 0 1 2 3 4
# Result: pygcn validation t = 2: 86.20 (200 steps), 3: 86.13 (200), 7: 86.07 (200), 10: 86.00
# (150), against t = 5's 86.33 (150): none passes, t = 5 stays and the public split was not run.
# Session 32: more seeds for each default, a measurement (nothing is chosen). Rule fixed
# before these ran (committed first): every default configuration gets as many new seeds as
# it had (node level seeds 10-19, graph level 5-9; REDDIT-B, met and hours per seed,
# excepted); the targets section of mvgrl.md (TARGETS in experiments/mvgrl_table.py) pools
# all of them, whatever they score, and the README's honest default column quotes the
# pooled mean +- std with its seed count, the first runs' figures beside it.
S1019="10 11 12 13 14 15 16 17 18 19"
for SPLIT in pygcn public; do
  $G bench --dataset Cora --full-batch --alpha 0.15 --split $SPLIT --topk 256 --seeds $S1019 --out-dir $R/Cora-$SPLIT-ppr-alpha015-s10-19 --quiet --resume
  $G eval --dataset Cora --full-batch --alpha 0.15 --split $SPLIT --topk 256 --seeds $S1019 --out-dir $R/Cora-$SPLIT-ppr-alpha015-s10-19 --quiet --protocol paper
done
$G bench --dataset CiteSeer --seeds $S1019 --out-dir $R/CiteSeer-public-ppr-bilinear-init-s10-19 --quiet --resume
$G eval --dataset CiteSeer --seeds $S1019 --out-dir $R/CiteSeer-public-ppr-bilinear-init-s10-19 --quiet --protocol paper
for D in MUTAG PTC_MR IMDB-BINARY IMDB-MULTI; do
  $G bench --dataset $D --seeds 5 6 7 8 9 --out-dir $R/$D-ppr-head-s5-9 --quiet --resume
done
# Session 32, the paper protocol's selection measured out of sample. Its graph-level figures
# pick, among the release's 36 configurations, the one with the best mean test-fold accuracy
# over seeds 0-4 (MUTAG L2-B256-E100: 89.78; PTC_MR L2-B32-E100: 59.67; runs *-sweep36). Rule
# fixed before these ran (committed first): each picked configuration trains on fresh seeds
# 5-9 (new encoders and new fold splits), and that mean is reported beside the picked figure
# as its out-of-sample value, whatever it is.
$G bench --dataset MUTAG --layers 2 --batch-size 256 --epochs 100 --seeds 5 6 7 8 9 --out-dir $R/MUTAG-ppr-head-L2-B256-E100-s5-9 --quiet --resume
$G bench --dataset PTC_MR --layers 2 --batch-size 32 --epochs 100 --seeds 5 6 7 8 9 --out-dir $R/PTC_MR-ppr-head-L2-B32-E100-s5-9 --quiet --resume
# Session 33: how the honest node probe chooses its settings. It picks C (0.01-100) and
# z-scoring by validation accuracy, and that pick jumps between seeds (per_seed in the default
# runs' results.json). Rule fixed before the check ran (committed first): on the defaults'
# embeddings (Cora pygcn, Cora public, CiteSeer; seeds 0-19, retrained by graphrep train),
# experiments/probe_selection_check.py scores each selection rule on validation nodes only
# (choose on a random half, score on the other, both ways, 10 halvings per seed). A rule
# (log_loss: the same candidates by validation cross-entropy; log_loss_fine: C 1e-3..1e3 in
# half decades by cross-entropy) replaces the probe's accuracy rule only if its held-out-half
# accuracy, averaged over the three sets, beats the accuracy rule's by more than 0.25 points
# and falls no more than 0.25 below it on any set; if both pass, the higher average wins. If
# one passes, the default runs' 20 seeds are re-probed with it and reported whatever they
# score; test accuracies (--test) are read only after this decision.
#   for D in CiteSeer:public Cora:public Cora:pygcn; do graphrep train --dataset ${D%%:*} --split ${D##*:} --seeds $(seq 0 19) --out-dir /tmp/emb/${D%%:*}-${D##*:} --quiet; done
#   python experiments/probe_selection_check.py --run CiteSeer:public:/tmp/emb/CiteSeer-public --run Cora:public:/tmp/emb/Cora-public --run Cora:pygcn:/tmp/emb/Cora-pygcn --out experiments/results/probe_selection_check.json
# Result (CiteSeer and Cora pygcn, held-out-half accuracy, 20 seeds): CiteSeer accuracy 72.68,
# log_loss 72.17 (-0.51), log_loss_fine 72.21 (-0.47); Cora pygcn 86.03, 84.08 (-1.95), 84.37
# (-1.66). Both fall more than 0.25 below the accuracy rule on a set, so neither can pass: the
# accuracy rule stays whatever Cora public gives (the script's accuracy rule reproduces every
# CiteSeer seed's committed pick, C, z-scoring and validation accuracy).
# Session 33, second rule (committed before it ran): the release's node probe (50 restarts of a
# linear layer, Adam 0.01, 300 steps) sets its weight decay by dataset (0.01 on CiteSeer, 0
# elsewhere) without validation, so it stays in the paper-protocol column. Candidate
# release_wd: the same probe with the weight decay chosen from 0, 1e-3, 1e-2, 1e-1 by
# validation accuracy averaged over restarts (20 restarts in this check, for time). Its test
# figures with the fixed weight decay were known before (CiteSeer +0.56 over the honest probe,
# Cora within 0.1), which suggested it. It replaces the honest node probe only under the rule
# above: held-out-half accuracy, averaged over the three sets, more than 0.25 above the
# accuracy rule's, and no set more than 0.25 below it; then the default runs' 20 seeds are
# re-probed with it (50 restarts) and reported whatever they score.
#   python experiments/probe_selection_check.py --restarts 20 --run CiteSeer:public:/tmp/emb/CiteSeer-public --run Cora:public:/tmp/emb/Cora-public --run Cora:pygcn:/tmp/emb/Cora-pygcn --out experiments/results/probe_selection_check.json
# Result (held-out-half accuracy, 20 seeds; experiments/results/probe_selection_check.json):
# accuracy rule CiteSeer 72.68, Cora public 81.24, Cora pygcn 86.03; log_loss -0.51, +0.46,
# -1.95; log_loss_fine -0.47, +0.63, -1.66; release_wd +0.30, -0.50, +0.12 (average -0.03).
# No rule passes: the honest node probe keeps choosing C and z-scoring by validation accuracy.
# The script's accuracy rule reproduced all 60 committed picks (C, z-scoring, val accuracy).
# Test accuracies, read only after that decision (choosing on all validation nodes), logged in
# experiments/results/probe_selection_check_test.json: the same command with --test and
# --out experiments/results/probe_selection_check_test.json.
# Session 33, third rule (committed before it ran): the graph probe (LinearSVC, C by inner CV)
# never z-scores the embedding, as released; the node probe chooses z-scoring with C on
# validation nodes. experiments/svc_standardize_check.py probes the default configuration's
# embeddings (head output, seeds 0-9, retrained by graphrep train) raw and z-scored on the
# same folds and counts the outer folds whose inner CV prefers each. Z-scoring joins the graph
# probe's choice (per outer fold, with C, by inner CV) only if inner CV prefers it on more
# outer folds than the raw probe (ties aside) on both MUTAG and PTC_MR. If it passes, the
# per-fold choice is reported for MUTAG and PTC_MR beside the default, whatever it scores,
# and becomes the default only once every graph-level default is re-probed with it. Test-fold
# accuracies (--test) are read only after this decision.
#   for D in MUTAG PTC_MR; do graphrep train --dataset $D --seeds $(seq 0 9) --out-dir /tmp/emb/$D --quiet; done
#   python experiments/svc_standardize_check.py --run MUTAG:/tmp/emb/MUTAG --run PTC_MR:/tmp/emb/PTC_MR --out experiments/results/svc_standardize_check.json
# Result (experiments/results/svc_standardize_check.json): inner CV prefers the z-scored probe
# on 16 of MUTAG's 100 outer folds and the raw one on 75 (9 tied); PTC_MR 35 to 60 (5 tied).
# It fails on both: the graph probe stays raw, as released.
# Test-fold accuracies, read only after that decision: the same command with --test and
# --out experiments/results/svc_standardize_check_test.json.
# Session 34: a leak in the public split's defaults, found by a read-only review. Sessions 27
# (PPR cut) and 31 (PPR teleport) decided Cora's defaults for both splits on the pygcn split's
# validation nodes, the public split's own only able to veto (no more than 0.25 below). 108 of
# pygcn's 298 matched validation nodes are public-split test nodes (cora_split_overlap.json),
# so the public split's top-256 and alpha 0.15 read some of its own test labels: the leak that
# session 22 had removed for the training schedule. Re-decision (written and committed before
# anything below ran): each split's defaults are decided on its own validation nodes alone,
# by the same rules and the validation figures already recorded (nothing is re-run to
# decide; test figures play no part):
# - cut: top-256 replaces top-64 only if more than 0.25 above it. pygcn 86.53 vs 86.07:
#   top-256. public 82.24 vs 82.10: a tie, so top-64 stays on the public split.
# - teleport: 0.15 replaces the paper's 0.2 only if more than 0.25 above it. pygcn 86.80 vs
#   86.53: 0.15. public 82.10 vs 82.24 (at top-256; at top-64 never swept): 0.2 stays.
# - heat view's cut (session 28): public 82.00 vs 81.34 on its own nodes: top-256 stands.
#   Heat time, heat transition, discriminator init, schedule: decided on pygcn nodes with the
#   same outcome on public's own (ties keep the paper's or the release's setting) or already
#   re-decided on public nodes (session 22); unchanged.
# So the public split's PPR default becomes top-64 at alpha 0.2: the configuration of run
# Cora-public-ppr-bilinear-init (seeds 0-9). Under session 32's rule it gets seeds 10-19 too,
# and the targets section pools the 20, whatever they score; pygcn's defaults are unchanged.
$G bench --dataset Cora --full-batch --alpha 0.2 --topk 64 --split public --seeds $S1019 --out-dir $R/Cora-public-ppr-bilinear-init-s10-19 --quiet --resume
$G eval --dataset Cora --full-batch --alpha 0.2 --topk 64 --split public --seeds $S1019 --out-dir $R/Cora-public-ppr-bilinear-init-s10-19 --quiet --protocol paper
# Session 34, second re-decision (a second read-only audit, after the runs above): the rule
# above called Cora public's schedule "already re-decided on public nodes (session 22)", but
# that re-decision (experiments/cora_public_redecision.py) broke its tie by "the default's
# settings": full batch before one random subgraph, a default chosen on pygcn's validation
# nodes (seed 0; 108 of them public test nodes). Its tied candidates at the fewest steps
# (100) are one random 2000-node subgraph per step (public validation 82.02) and full batch
# (81.88). Rule (written and committed before the runs below): the public split's schedule
# is decided on its own validation nodes alone, and a tie is broken without labels: fewest
# steps, then the and the release's way of training (random node subsets: the issue
# specifies them, the release trains on subgraphs), then learning rate 1e-3. That gives one
# random 2000-node subgraph per step, at most 100 steps, lr 1e-3 (the higher validation mean
# of the two, and the cheaper per step, point the same way). The sweep logged test
# accuracies for both (83.05 and 83.28 with its probe, session 22): known before this rule,
# and no part of it. The public split's default becomes PPR top-64 at alpha 0.2 trained on
# one random 2000-node subgraph per step; seeds 0-19, pooled in the targets whatever they
# score; pygcn and CiteSeer keep full batch (each chosen, or fixed, on its own nodes).
$G bench --dataset Cora --alpha 0.2 --topk 64 --split public --no-full-batch --seeds $S10 --out-dir $R/Cora-public-ppr-subgraph --quiet --resume
$G eval --dataset Cora --alpha 0.2 --topk 64 --split public --no-full-batch --seeds $S10 --out-dir $R/Cora-public-ppr-subgraph --quiet --protocol paper
$G bench --dataset Cora --alpha 0.2 --topk 64 --split public --no-full-batch --seeds $S1019 --out-dir $R/Cora-public-ppr-subgraph-s10-19 --quiet --resume
$G eval --dataset Cora --alpha 0.2 --topk 64 --split public --no-full-batch --seeds $S1019 --out-dir $R/Cora-public-ppr-subgraph-s10-19 --quiet --protocol paper
# The heat view at the public split's new default schedule (a measurement for the README's heat
# column, nothing chosen; its top-256 cut as decided in session 28), 10 seeds:
$G bench --dataset Cora --split public --view heat --out-dir $R/Cora-public-heat-subgraph --quiet --resume
# Correction to the first session-34 rule's text above (a review of it, after the runs): heat
# time and heat transition were never swept on the public split (the pygcn sweeps found
# nothing to pass on), so they keep the paper's t = 5 and A D^-1 there, fixed in advance,
# not "the same outcome on public's own". Nothing it decided changes.
