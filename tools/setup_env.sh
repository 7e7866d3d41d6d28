#!/usr/bin/env bash
# Create or update a project virtualenv (idempotent), for one of the two stacks:
#   tools/setup_env.sh          .venv: the current stack (requirements/runtime, tests,
#                               app, labelling), `make env`
#   tools/setup_env.sh old      .venv-old: the oldest supported stack
#                               (requirements/old-stack.txt: torch 2.1, mmcv 2.1.0,
#                               mmpose 1.3.2, the oldest diffusers / peft /
#                               transformers), where `make test-old` runs, `make env-old`
#
# mmcv 2.1.0 (the newest that mmdet 3.3.0 accepts) ships only as a source dist; it is
# built once per torch with its CPU ops (mmpose 1.3.2 imports mmcv.ops) and kept in a
# wheelhouse outside the repo, so fresh clones on the same machine install it in
# seconds (tools/build_mmcv.sh). On a GPU, mmdet's detectors still work:
# `import genloc_mmpose` runs their NMS / RoIAlign of CUDA tensors through torchvision
# (genloc_mmpose/patches/mmcv_cuda_ops.py).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3.11}
case "${1:-current}" in
  current) VENV=.venv
           REQS=(requirements/runtime.txt requirements/tests.txt requirements/app.txt
                 requirements/labelling.txt) ;;
  old)     VENV=.venv-old
           REQS=(requirements/old-stack.txt) ;;
  *) echo "usage: tools/setup_env.sh [current|old]" >&2; exit 2 ;;
esac
STAMP="$VENV/.genloc-env"
want=$(cat "${REQS[@]}" tools/setup_env.sh tools/build_mmcv.sh setup.py | sha256sum | cut -d' ' -f1)

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

pip install "${REQS[@]/#/-r}" wheel ninja cython
mmcv_wheel=$(bash tools/build_mmcv.sh "$VENV")
pip install --no-deps "$mmcv_wheel"
pip install addict packaging Pillow pyyaml regex rich termcolor yapf  # mmcv's own deps
# xtcocotools must be compiled against the installed numpy (the wheel breaks on numpy 2).
pip install --no-binary xtcocotools --no-build-isolation xtcocotools
pip install --no-deps mmpose==1.3.2
if [ "$VENV" = .venv ]; then
  pip install --no-deps openmim==0.3.9  # mim train/test; its deps: requirements/tests.txt
fi
pip install --no-deps -e .
echo "$want" > "$STAMP"
echo "Environment ready in $(( $(date +%s) - start )) s: $VENV"
