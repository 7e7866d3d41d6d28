#!/usr/bin/env bash
# Create or update .venv-old (idempotent): the oldest supported stack
# (requirements/old-stack.txt: torch 2.1, mmcv 2.1.0, mmpose 1.3.2 and the oldest
# diffusers / peft / transformers), where `make test-old` runs the plugin's tests.
#
# mmcv 2.1.0 is built once with its CPU ops against torch 2.1 (tools/build_mmcv.sh,
# kept in ~/.cache/genloc-mmpose/wheels): mmpose 1.3.2 imports mmcv.ops, so a build
# without ops would not import.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3.11}
VENV=.venv-old
STAMP="$VENV/.genloc-env"
want=$(cat requirements/old-stack.txt tools/setup_env_old.sh tools/build_mmcv.sh setup.py |
       sha256sum | cut -d' ' -f1)
if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$want" ]; then
  exit 0
fi
start=$(date +%s)
[ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
# (the machine-wide pip config may name index folders that do not exist: not news)
pip() {
  "$VENV/bin/python" -m pip --disable-pip-version-check -q "$@" 2>&1 |
    { grep -v -e "^WARNING: Location '.*' is ignored" -e "chumpy" || true; }
}

pip install -r requirements/old-stack.txt wheel ninja cython
mmcv_wheel=$(bash tools/build_mmcv.sh "$VENV")
pip install --no-deps "$mmcv_wheel"
pip install addict packaging Pillow pyyaml regex rich termcolor yapf  # mmcv's own deps
pip install --no-binary xtcocotools --no-build-isolation xtcocotools
pip install --no-deps mmpose==1.3.2
pip install --no-deps -e .
echo "$want" > "$STAMP"
echo "Environment ready in $(( $(date +%s) - start )) s: $VENV"
