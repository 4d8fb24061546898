#!/usr/bin/env bash
# Run the lint (ruff.toml) and the test suite: scripts/run-tests.sh [PYTEST_ARGS...]  (default paths: pytest.ini).
# The long end-to-end runs carry the `slow` marker: scripts/run-tests.sh -m "not slow" skips them.
set -euo pipefail
REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO_ROOT"
"$REPO_ROOT/scripts/bootstrap.sh" requirements-test.txt
# shellcheck source=scripts/env.sh
source "$REPO_ROOT/scripts/env.sh"
# A per-run ROS domain (1..100) so concurrent runs on one machine do not see each other.
export ROS_DOMAIN_ID="${ROS_DOMAIN_ID:-$(( $$ % 100 + 1 ))}"
"$REPO_ROOT/.venv/bin/ruff" check "$REPO_ROOT"
exec "$REPO_ROOT/.venv/bin/python" -m pytest -q "$@"
