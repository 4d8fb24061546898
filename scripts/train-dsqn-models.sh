#!/usr/bin/env bash
# Train the shipped DSQN models (3 seeds x CartPole-v0, Acrobot-v1) as a Ray grid, two at a time
# (snn-robot reproduce dsqn --help). A model folder that already holds model.safetensors is
# skipped, so re-running resumes; RAY_ADDRESS runs it on a cluster.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
./scripts/bootstrap.sh requirements.txt
export OMP_NUM_THREADS=1
exec .venv/bin/snn-robot reproduce dsqn --envs CartPole-v0 Acrobot-v1 --seeds 0 1 2 --workers "${WORKERS:-2}"
