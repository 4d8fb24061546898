#!/usr/bin/env bash
# Paper 000 on this machine's own data: online TD3 -> Minari datasets -> TD3+BC ReLU and QCFS
# actors -> conversion and calibration tables (docs/results/calibration.{md,json,png}).
#   scripts/reproduce-calibration.sh [TASK ...]        (default: Hopper-v5)
# Every step checkpoints and resumes, so re-running after an interruption goes on where it
# stopped (finished runs are skipped). Settings, from the environment:
#   ONLINE_STEPS  online TD3 steps for the datasets   (500000; Ant-v5: 300000, to leave time for its runs)
#   TD3BC_STEPS   TD3+BC gradient steps per actor      (100000; the paper trains 1M)
#   SEEDS         TD3+BC seeds                         ("0 1 2")
#   LEVELS        dataset levels                       ("medium expert medium-replay medium-expert")
#   JOBS          TD3+BC runs at a time                (1)
# Logs go to runs/logs/.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
./scripts/bootstrap.sh requirements.txt
TD3BC_STEPS=${TD3BC_STEPS:-100000} JOBS=${JOBS:-1}
SEEDS=${SEEDS:-0 1 2} LEVELS=${LEVELS:-medium expert medium-replay medium-expert}
export OMP_NUM_THREADS=1
mkdir -p runs/logs
for env in "${@:-Hopper-v5}"; do
  task=$(echo "${env%-v*}" | tr '[:upper:]' '[:lower:]')
  if [[ $env == Ant-v5 ]]; then steps=${ONLINE_STEPS:-300000}; else steps=${ONLINE_STEPS:-500000}; fi
  .venv/bin/snn-robot data generate --env "$env" --seed 0 --steps "$steps" > "runs/logs/data-$env.log" 2>&1
  for level in $LEVELS; do for seed in $SEEDS; do for activation in qcfs relu; do
    echo "snn-robot/$task/$level-v0 $activation $seed"
  done; done; done |
    xargs -P "$JOBS" -L 1 bash -c '.venv/bin/snn-robot train td3bc --dataset "$0" --activation "$1" --seed "$2" \
      --steps '"$TD3BC_STEPS"' > "runs/logs/td3bc-${0//\//_}-$1-seed$2.log" 2>&1'
done
.venv/bin/snn-robot report calibration
