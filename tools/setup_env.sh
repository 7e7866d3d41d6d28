#!/usr/bin/env bash
# Create or update the project virtualenv at .venv (idempotent).
#
# mmcv 2.1.0 (the newest that mmdet 3.3.0 accepts) ships only as a source dist; it is
# built once with its CPU ops and kept in a wheelhouse outside the repo, so fresh
# clones on the same machine install it in seconds.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3.11}
VENV=.venv
WHEELHOUSE=${GENLOC_WHEELHOUSE:-$HOME/.cache/genloc-mmpose/wheels}
MMCV_VERSION=2.1.0
TORCH_VERSION=$(sed -n 's/^torch==//p' requirements/runtime.txt)
STAMP="$VENV/.genloc-env"
want=$(cat requirements/*.txt tools/setup_env.sh setup.py | sha256sum | cut -d' ' -f1)

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
  wheel ninja cython

mmcv_dir="$WHEELHOUSE/torch-$TORCH_VERSION"
if ! ls "$mmcv_dir"/mmcv-$MMCV_VERSION-*.whl >/dev/null 2>&1; then
  echo "Building mmcv $MMCV_VERSION with CPU ops (once per machine, ~10 min on 2 cores) ..."
  tmp=$(mktemp -d)
  pip download --no-deps --no-binary :all: -d "$tmp" "mmcv==$MMCV_VERSION"
  tar -xzf "$tmp"/mmcv-$MMCV_VERSION.tar.gz -C "$tmp"
  # torch >= 2.10 headers need C++20.
  sed -i 's/-std=c++17/-std=c++20/g' "$tmp/mmcv-$MMCV_VERSION/setup.py"
  mkdir -p "$mmcv_dir"
  (cd "$tmp/mmcv-$MMCV_VERSION" && MMCV_WITH_OPS=1 FORCE_CUDA=0 CFLAGS=-g0 CXXFLAGS=-g0 \
     MAX_JOBS=${MAX_JOBS:-2} "$OLDPWD/$VENV/bin/python" -m pip wheel -q --no-build-isolation \
     --no-deps -w "$mmcv_dir" .)
  rm -rf "$tmp"
fi
pip install --no-deps "$mmcv_dir"/mmcv-$MMCV_VERSION-*.whl
pip install addict packaging Pillow pyyaml regex rich termcolor yapf  # mmcv's own deps
# xtcocotools must be compiled against the installed numpy (the wheel breaks on numpy 2).
pip install --no-binary xtcocotools --no-build-isolation xtcocotools
pip install --no-deps mmpose==1.3.2
pip install --no-deps -e .
echo "$want" > "$STAMP"
echo "Environment ready in $(( $(date +%s) - start )) s: $VENV"
