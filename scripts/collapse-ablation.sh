#!/usr/bin/env bash
# The Walker2d collapse ablation of docs/results/collapse_ablation.md: two subsets of the expert dataset
# (made by `snn-robot data generate --env Walker2d-v5`), then 3 QCFS TD3+BC seeds on each, alternating.
# Every run resumes from its checkpoint: run the script again after an interruption.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/env.sh
snn=.venv/bin/snn-robot
root=snn-robot/walker2d
minari_root=${MINARI_ROOT:-runs/data/minari}
if [ ! -d "$minari_root/$root/expert-unterminated-v0" ]; then
  $snn data subset --dataset $root/expert-v0 --name $root/expert-unterminated-v0 --unterminated-only --minari-root "$minari_root"
fi
if [ ! -d "$minari_root/$root/expert-any-v0" ]; then
  $snn data subset --dataset $root/expert-v0 --name $root/expert-any-v0 --transitions 84000 --seed 0 --minari-root "$minari_root"
fi
for seed in 0 1 2; do
  for subset in expert-unterminated-v0 expert-any-v0; do
    $snn train td3bc --dataset "$root/$subset" --activation qcfs --seed "$seed" --steps 100000 \
      --minari-root "$minari_root" --out "runs/collapse/snn-robot_walker2d_$subset/qcfs-seed$seed"
  done
done
