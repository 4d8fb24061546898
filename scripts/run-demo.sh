#!/usr/bin/env bash
# Main job: the ROS 2 graph on a simulated robot. A shipped DSQN balances a randomized
# cart-pole through real DDS (sim bridge, spiking policy node, r-STDP service, each in its
# own process) and r-STDP adapts it online; prints returns before and after adaptation.
#   scripts/run-demo.sh [NAME:=VALUE ...]   (launch arguments of launch/cartpole_rstdp.launch.yaml)
# Adapted weights go to runs/demo/<time>/ unless adapted_dir:=... is given.
set -euo pipefail
REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO_ROOT"
"$REPO_ROOT/scripts/bootstrap.sh" requirements.txt
# shellcheck source=scripts/env.sh
source "$REPO_ROOT/scripts/env.sh"
exec "$REPO_ROOT/.venv/bin/snn-robot" run cartpole_rstdp "adapted_dir:=runs/demo/$(date +%Y%m%d-%H%M%S)" "$@"
