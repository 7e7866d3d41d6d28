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
want=$(cat requirements/{runtime,tests,app,labelling,label-studio}.txt tools/setup_env.sh tools/build_mmcv.sh setup.py |
       sha256sum | cut -d' ' -f1)

# Debian's Chromium: the browser tests (tests/test_app.py) drive it with Playwright
# (Playwright's own browser download is not used). Checked on every run: it lives
# outside .venv.
if [ ! -x /usr/bin/chromium ]; then
  echo "Installing chromium (apt) for the browser tests ..."
  apt=(env DEBIAN_FRONTEND=noninteractive apt-get)
  [ "$(id -u)" = 0 ] || apt=(sudo "${apt[@]}")
  "${apt[@]}" update -qq
  "${apt[@]}" install -y -qq chromium >/dev/null
fi

# Label Studio (the server of tests/test_labelling.py) in a virtualenv of its own, as
# people run it: it pins Django, Jinja2 and numpy versions MMPose's stack does not
# share (docs/labelling.md). Its version: requirements/label-studio.txt.
LS_VENV=.venv-label-studio
ls_want=$(sha256sum requirements/label-studio.txt | cut -d' ' -f1)
if [ ! -f "$LS_VENV/.genloc-env" ] || [ "$(cat "$LS_VENV/.genloc-env")" != "$ls_want" ]; then
  echo "Installing Label Studio into $LS_VENV ..."
  [ -x "$LS_VENV/bin/python" ] || "$PY" -m venv "$LS_VENV"
  "$LS_VENV/bin/python" -m pip --disable-pip-version-check -q install \
    -r requirements/label-studio.txt 2>&1 | { grep -v "^WARNING: Location '.*' is ignored" || true; }
  # a migrated, empty database for the tests to copy (migrating takes ~30 s per start)
  rm -rf "$LS_VENV/template-data"
  LATEST_VERSION_CHECK=false "$LS_VENV/bin/label-studio" user --username nobody@genloc.local \
    --data-dir "$LS_VENV/template-data" > "$LS_VENV/template-data.log" 2>&1
  echo "$ls_want" > "$LS_VENV/.genloc-env"
fi

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
