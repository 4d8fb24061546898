#!/usr/bin/env bash
# The GIFs in README.md.
# 1. Each shipped spiking actor (adaptive I) on the second setting drawn from the MuJoCo "normal"
#    randomization profile, 200 control steps, a frame every 5 (the camera follows the robot).
# 2. Walker2d-v5 on the first setting (where the actor of the adaptation studies falls on 4 of the scenario's
#    5 held-out seeds) before and after online adaptation: `snn-robot run mujoco_rstdp env:=Walker2d-v5
#    episodes:=200 model:=...` adapts it (about 4 min) and keeps the final weights; both play held-out seed 30001.
#    The other held-out seeds, as README counts them: add `--seed 30000` ... `--seed 30004` to either render.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
mkdir -p docs/media
for task in Hopper-v5 Walker2d-v5 HalfCheetah-v5 Ant-v5; do
  .venv/bin/snn-robot render "models/td3bc/$task/spiking_actor.safetensors" "docs/media/$task.gif" \
    --profile normal --setting 1 --steps 200 --every 5
done
adapted=runs/adapted-walker2d
rm -rf "$adapted"  # adapt from the trained weights: the service resumes from weights it finds there
studied=docs/results/adaptation_runs/actors/Walker2d-v5/spiking_actor.safetensors  # the studies' actor
.venv/bin/snn-robot run mujoco_rstdp env:=Walker2d-v5 episodes:=200 "model:=$studied" "adapted_dir:=$adapted"
.venv/bin/snn-robot render "$studied" docs/media/Walker2d-v5-frozen.gif \
  --profile normal --setting 0 --seed 30001 --steps 240 --every 1
.venv/bin/snn-robot render "$adapted/current.safetensors" docs/media/Walker2d-v5-adapted.gif \
  --profile normal --setting 0 --seed 30001 --steps 240 --every 5
