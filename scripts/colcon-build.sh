#!/usr/bin/env bash
# Build the snn_robot ROS 2 package with colcon from the workspace in ros2_ws/.
# Usage: scripts/colcon-build.sh [OUTPUT_DIR] [-- EXTRA_COLCON_BUILD_ARGS...]
#   OUTPUT_DIR (default: <repo>/ros2_ws) receives build/, install/ and log/.
set -euo pipefail
REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

out="$REPO_ROOT/ros2_ws"
if [[ $# -gt 0 && "$1" != "--" ]]; then
    out="$1"
    shift
fi
if [[ $# -gt 0 && "$1" == "--" ]]; then shift; fi
mkdir -p "$out"
out="$(cd "$out" && pwd)"

"$REPO_ROOT/scripts/bootstrap.sh" requirements-test.txt
# shellcheck source=scripts/env.sh
source "$REPO_ROOT/scripts/env.sh"

cd "$REPO_ROOT"
# The venv's bin first, so colcon's build steps run with the venv's python and setuptools.
export PATH="$REPO_ROOT/.venv/bin:$PATH"
export COLCON_LOG_PATH="$out/log"
exec "$REPO_ROOT/.venv/bin/colcon" build \
    --base-paths ros2_ws/src \
    --build-base "$out/build" \
    --install-base "$out/install" \
    "$@"
