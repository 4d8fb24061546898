#!/usr/bin/env bash
# Train the shipped DSQN models (3 seeds x CartPole-v0, Acrobot-v1), two at a time.
# A model folder that already holds model.safetensors is skipped, so re-running resumes.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
./scripts/bootstrap.sh requirements.txt
mkdir -p runs
for env in CartPole-v0 Acrobot-v1; do for seed in 0 1 2; do echo "$env $seed"; done; done |
  while read -r env seed; do
    [[ -f "models/dsqn/$env/seed$seed/model.safetensors" ]] || echo "$env $seed"
  done |
  xargs -P 2 -L 1 bash -c '.venv/bin/snn-robot train dsqn --env "$0" --seed "$1" > "runs/train-$0-seed$1.log" 2>&1'
