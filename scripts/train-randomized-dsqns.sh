#!/usr/bin/env bash
# Train the domain-randomized DSQNs, the adaptation study's control (what a sim-to-real user would
# try instead of adapting online): the shipped models' network, budget and seeds, new physics every
# episode, as a Ray grid (snn-robot reproduce dsqn --help). A model folder that already holds
# model.safetensors is skipped, so re-running resumes; RAY_ADDRESS runs it on a cluster.
#   scripts/train-randomized-dsqns.sh ENV [PROFILE ...]    (default: normal extreme; seeds 0 1 2)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
./scripts/bootstrap.sh requirements.txt
env_id="${1:?usage: $0 ENV [PROFILE ...]}"
shift
profiles=("$@")
[[ ${#profiles[@]} -gt 0 ]] || profiles=(normal extreme)
export OMP_NUM_THREADS=1
exec .venv/bin/snn-robot reproduce dsqn --envs "$env_id" --randomizations "${profiles[@]}" --seeds 0 1 2 \
  --workers "${WORKERS:-2}"
