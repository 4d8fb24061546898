#!/usr/bin/env bash
# Paper 000 on this machine's own data: online TD3 -> Minari datasets -> TD3+BC ReLU and QCFS
# actors -> their scores -> conversion and calibration tables (docs/results/calibration.{md,json,png}).
#   scripts/reproduce-calibration.sh [TASK ...]        (default: Hopper-v5)
# Every unit runs as a Ray task (snn-robot reproduce calibration --help): on a local Ray on
# 127.0.0.1, or on the cluster at RAY_ADDRESS. Every unit checkpoints and resumes, so re-running
# after an interruption goes on where it stopped (finished units are skipped). Settings, from the
# environment:
#   ONLINE_STEPS  online TD3 steps for the datasets   (500000; Ant-v5: 300000, to leave time for its runs)
#   TD3BC_STEPS   TD3+BC gradient steps per actor      (100000; the paper trains 1M)
#   SEEDS         TD3+BC seeds                         ("0 1 2 3 4": the run-level comparison asks >= 5)
#   LEVELS        dataset levels                       ("medium expert medium-replay medium-expert")
#   ACTIVATIONS   TD3+BC actors                        ("qcfs relu"; "qcfs" halves the training)
#   WORKERS       units at a time on the local Ray     (2)
# Each unit's output goes to runs/logs/grid/NAME.log.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
./scripts/bootstrap.sh requirements.txt
read -r -a seeds <<< "${SEEDS:-0 1 2 3 4}"
read -r -a levels <<< "${LEVELS:-medium expert medium-replay medium-expert}"
read -r -a activations <<< "${ACTIVATIONS:-qcfs relu}"
online=()
if [[ -n ${ONLINE_STEPS:-} ]]; then online=(--online-steps "$ONLINE_STEPS"); fi
export OMP_NUM_THREADS=1
exec .venv/bin/snn-robot reproduce calibration --envs "${@:-Hopper-v5}" --levels "${levels[@]}" --activations "${activations[@]}" --seeds "${seeds[@]}" \
  --td3bc-steps "${TD3BC_STEPS:-100000}" --workers "${WORKERS:-2}" "${online[@]}"
