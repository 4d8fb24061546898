#!/usr/bin/env bash
# Train the domain-randomized DSQNs, the adaptation study's control (what a sim-to-real user would
# try instead of adapting online): the shipped models' network, budget and seeds, new physics every
# episode. A model folder that already holds model.safetensors is skipped, so re-running resumes.
#   scripts/train-randomized-dsqns.sh ENV [PROFILE ...]    (default: normal extreme; seeds 0 1 2)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
./scripts/bootstrap.sh requirements.txt
env_id="${1:?usage: $0 ENV [PROFILE ...]}"
shift
profiles=("$@")
[[ ${#profiles[@]} -gt 0 ]] || profiles=(normal extreme)
for profile in "${profiles[@]}"; do
  for seed in 0 1 2; do
    out="models/dsqn-randomized/$env_id/$profile/seed$seed"
    [[ -f "$out/model.safetensors" ]] && continue
    OMP_NUM_THREADS=1 .venv/bin/snn-robot train dsqn --env "$env_id" --seed "$seed" --randomization "$profile" --out "$out"
  done
done
