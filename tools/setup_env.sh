#!/usr/bin/env bash
# Create or update the project virtualenv at .venv (idempotent).
#
# mmcv 2.1.0 (the newest that mmdet 3.3.0 accepts) ships only as a source dist; it is
# built once with its CPU ops and kept in a wheelhouse outside the repo, so fresh
# clones on the same machine install it in seconds (tools/build_mmcv.sh). On a GPU,
# mmdet's detectors still work: `import genloc_mmpose` runs their NMS / RoIAlign of
# CUDA tensors through torchvision (genloc_mmpose/patches/mmcv_cuda_ops.py).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3.11}
VENV=.venv
STAMP="$VENV/.genloc-env"
want=$(cat requirements/{runtime,tests,app,labelling}.txt tools/setup_env.sh tools/build_mmcv.sh setup.py |
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

pip install -r requirements/runtime.txt -r requirements/tests.txt -r requirements/app.txt \
  -r requirements/labelling.txt \
  wheel ninja cython

mmcv_wheel=$(bash tools/build_mmcv.sh "$VENV")
pip install --no-deps "$mmcv_wheel"
pip install addict packaging Pillow pyyaml regex rich termcolor yapf  # mmcv's own deps
# xtcocotools must be compiled against the installed numpy (the wheel breaks on numpy 2).
pip install --no-binary xtcocotools --no-build-isolation xtcocotools
pip install --no-deps mmpose==1.3.2
pip install --no-deps openmim==0.3.9  # mim train/test; its deps: requirements/tests.txt
pip install --no-deps -e .
echo "$want" > "$STAMP"
echo "Environment ready in $(( $(date +%s) - start )) s: $VENV"
