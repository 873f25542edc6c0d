#!/usr/bin/env bash
# Runs the pytest plugin's own tests: a throwaway virtualenv (or `pip install --target` where the venv
# module is missing), `pip install ./python` with pytest and the official client's requirements, then
# pytest on python/tests against the built emulator of this checkout. Exit status is pytest's.
# Knobs: PYTHON (default python3), RF_REAL_CLIENT_DIR (default ../shared/real-client), PYTEST_ARGS.
set -euo pipefail
started=$(date +%s)
python_dir="$(cd "$(dirname "$0")" && pwd)"
repo="$(dirname "$python_dir")"
PYTHON="${PYTHON:-python3}"
export ROBOFLOW_EMULATOR_DIR="$repo"
export RF_REAL_CLIENT_DIR="${RF_REAL_CLIENT_DIR:-$(cd "$repo/.." && pwd)/shared/real-client}"
# Fail fast on an index that cannot be reached (pip retries each lookup five times by default).
export PIP_RETRIES="${PIP_RETRIES:-0}" PIP_DISABLE_PIP_VERSION_CHECK=1 PYTHONDONTWRITEBYTECODE=1

if [ ! -f "$repo/dist/cli.js" ] && [ ! -f "$repo/dist/cli.bundle.mjs" ]; then
  echo "error: the emulator is not built ($repo/dist); run 'npm ci' (or 'npm run build') first" >&2
  exit 1
fi
"$PYTHON" --version

work="$(mktemp -d "${TMPDIR:-/tmp}/rf-emulator-pytest.XXXXXX")"
trap 'rm -rf "$work"' EXIT
log="$work/pip.log"
cd "$repo"
if "$PYTHON" -m venv "$work/venv" >"$log" 2>&1; then
  py="$work/venv/bin/python" target=()
  echo "installing into a throwaway virtualenv: pip install ./python pytest + the official client's requirements"
else
  # No venv module (Debian without python3-venv): install into a folder put first on sys.path.
  py="$PYTHON" target=(--target "$work/site")
  export PYTHONPATH="$work/site${PYTHONPATH:+:$PYTHONPATH}"
  echo "python3 -m venv is unavailable; installing with pip install --target"
fi
"$py" -m pip install ${target[@]+"${target[@]}"} ./python pytest requests "pydantic>=2" -r "$RF_REAL_CLIENT_DIR/requirements.txt" >>"$log" 2>&1 \
  || { tail -n 40 "$log" >&2; echo "error: pip install failed (log above)" >&2; exit 1; }
echo "installed in $(( $(date +%s) - started )) s: $("$py" -c 'import importlib.metadata as m; print("pytest", m.version("pytest"), "+ pytest-roboflow-emulator", m.version("pytest-roboflow-emulator"))')"

# pytest's own summary is the last line printed (CI reads it); its exit status is the script's.
status=0
# shellcheck disable=SC2086
"$py" -m pytest -p no:cacheprovider -ra python/tests ${PYTEST_ARGS:-} || status=$?
exit "$status"
