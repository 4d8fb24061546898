#!/usr/bin/env bash
# Run the test suite: scripts/run-tests.sh [PYTEST_ARGS...]  (default paths: pytest.ini).
set -euo pipefail
REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO_ROOT"
"$REPO_ROOT/scripts/bootstrap.sh" requirements-test.txt
# shellcheck source=scripts/env.sh
source "$REPO_ROOT/scripts/env.sh"
# A per-run ROS domain (1..100) so concurrent runs on one machine do not see each other.
export ROS_DOMAIN_ID="${ROS_DOMAIN_ID:-$(( $$ % 100 + 1 ))}"
exec "$REPO_ROOT/.venv/bin/python" -m pytest -q "$@"
