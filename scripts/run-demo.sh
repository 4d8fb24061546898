#!/usr/bin/env bash
# Run the snn_robot demo: scripts/run-demo.sh [ARGS...]  (ARGS go to `snn-robot demo`).
set -euo pipefail
REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO_ROOT"
"$REPO_ROOT/scripts/bootstrap.sh" requirements.txt
# shellcheck source=scripts/env.sh
source "$REPO_ROOT/scripts/env.sh"
exec "$REPO_ROOT/.venv/bin/snn-robot" demo "$@"
