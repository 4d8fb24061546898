#!/usr/bin/env bash
# Create/refresh the project's virtual environment at <repo>/.venv.
#
# Usage: scripts/bootstrap.sh [REQUIREMENTS_FILE ...]    (default: requirements.txt)
#   e.g. scripts/bootstrap.sh requirements.txt
#        scripts/bootstrap.sh requirements-test.txt
#
# Relative requirement paths are looked up in the repo root first, then in the current
# directory. The venv is created with ${PYTHON:-python3} when missing. A stamp
# (.venv/.bootstrap-stamp-<name>) holds a sha256 over the requirement files (following
# -r/-c includes), setup.py, setup.cfg and package.xml; when it matches, nothing is installed.
# Package sources are whatever pip's own configuration says (nothing is hardcoded here).
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$REPO_ROOT/.venv"
PY="$VENV/bin/python"

log() { printf 'bootstrap: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

resolve() {  # resolve a requirements path given on the command line
    local f="$1"
    if [[ "$f" = /* ]]; then printf '%s\n' "$f"
    elif [[ -f "$REPO_ROOT/$f" ]]; then printf '%s\n' "$REPO_ROOT/$f"
    elif [[ -f "$f" ]]; then printf '%s\n' "$(cd "$(dirname "$f")" && pwd)/$(basename "$f")"
    else die "requirements file not found: $f"
    fi
}

# Print a requirements file and, recursively, the files it includes with -r/-c.
req_closure() {
    local file="$1" dir line inc
    [[ -f "$file" ]] || die "requirements file not found: $file"
    printf '%s\n' "$file"
    dir="$(dirname "$file")"
    while IFS= read -r line || [[ -n "$line" ]]; do
        line="${line%%#*}"
        inc=""
        if [[ "$line" =~ ^[[:space:]]*(-r|-c|--requirement|--constraint)[[:space:]=]*([^[:space:]]+) ]]; then
            inc="${BASH_REMATCH[2]}"
        fi
        [[ -n "$inc" ]] || continue
        [[ "$inc" = /* ]] || inc="$dir/$inc"
        req_closure "$inc"
    done < "$file"
}

if [[ $# -eq 0 ]]; then set -- requirements.txt; fi

req_files=()
stamp_name=""
for arg in "$@"; do
    req_files+=("$(resolve "$arg")")
    stamp_name="${stamp_name:+$stamp_name+}$(basename "$arg")"
done

mkdir -p "$VENV"
# Serialise concurrent bootstraps of the same venv where flock is available.
if command -v flock >/dev/null 2>&1; then
    exec 9>"$VENV/.bootstrap.lock"
    flock 9
fi

if [[ ! -x "$PY" ]]; then
    log "creating virtual environment in $VENV"
    "${PYTHON:-python3}" -m venv "$VENV"
fi

compute_stamp() {
    local f
    {
        "$PY" -c 'import sys; print(sys.version)'
        for f in "${req_files[@]}"; do req_closure "$f"; done | awk '!seen[$0]++' | while IFS= read -r f; do
            printf '%s %s\n' "${f#"$REPO_ROOT"/}" "$(sha256sum < "$f" | cut -d' ' -f1)"
        done
        for f in setup.py setup.cfg package.xml; do
            if [[ -f "$REPO_ROOT/$f" ]]; then
                printf '%s %s\n' "$f" "$(sha256sum < "$REPO_ROOT/$f" | cut -d' ' -f1)"
            fi
        done
    } | sha256sum | cut -d' ' -f1
}

# The policies' compiled kernels (Numba), into its on-disk cache: about 25 s the first time, so that a
# node's first control step does not pay it; a second of loading once cached.
# Skipped while the kernels' sources are those last compiled and their cache is there.
compile_kernels() {
    local sources="$REPO_ROOT/snn_policy_node/engine" kernels_stamp
    kernels_stamp="$(cat "$sources"/*.py | sha256sum | cut -d' ' -f1)"
    if [[ -f "$VENV/.kernels-stamp" && "$(cat "$VENV/.kernels-stamp")" == "$kernels_stamp" ]] \
        && compgen -G "$sources/__pycache__/*.nbi" >/dev/null; then
        return
    fi
    log "$(cd "$REPO_ROOT" && OMP_NUM_THREADS=1 "$PY" -m snn_policy_node.policy.kernels)"
    printf '%s\n' "$kernels_stamp" > "$VENV/.kernels-stamp"
}

STAMP_FILE="$VENV/.bootstrap-stamp-$stamp_name"
stamp="$(compute_stamp)"
if [[ -f "$STAMP_FILE" && "$(cat "$STAMP_FILE")" == "$stamp" ]]; then
    log "environment is up to date for $stamp_name"
    compile_kernels
    exit 0
fi

# pip, quiet; its stderr is shown except the per-package notes some machines' pip config
# produces for file:// index directories that lack a package. Exit status is pip's.
PIP_NOISE="^WARNING: Location 'file:[^']*' is ignored: it is neither a file nor a directory\.\$"
run_pip() {
    { (cd "$REPO_ROOT" && "$PY" -m pip "$@") 2>&1 1>&3 3>&- | { grep -Ev "$PIP_NOISE" || true; } >&2; } 3>&1
}

log "installing $stamp_name into $VENV"
pip_args=()
for f in "${req_files[@]}"; do pip_args+=(-r "$f"); done
run_pip install -q "${pip_args[@]}"
run_pip install -q --no-deps -e .

printf '%s\n' "$stamp" > "$STAMP_FILE.tmp"
mv -f "$STAMP_FILE.tmp" "$STAMP_FILE"
compile_kernels
log "done ($stamp_name)"
