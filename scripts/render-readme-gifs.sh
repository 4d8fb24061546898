#!/usr/bin/env bash
# The GIFs in README.md: each shipped spiking actor (adaptive I) on the second setting drawn from the
# MuJoCo "normal" randomization profile (on the first, Walker2d-v5 falls at once on every seed), 200
# control steps, a frame every 3.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
mkdir -p docs/media
for task in Hopper-v5 Walker2d-v5 HalfCheetah-v5 Ant-v5; do
  .venv/bin/snn-robot render "models/td3bc/$task/spiking_actor.safetensors" "docs/media/$task.gif" \
    --profile normal --setting 1 --steps 200 --every 3
done
