#!/usr/bin/env bash
# Build mmcv (default 2.1.0, the newest that mmdet 3.3.0 accepts; PyPI has only its
# source) with its compiled CPU ops against the torch of a virtualenv, once per
# machine: the wheel is kept in $GENLOC_WHEELHOUSE/torch-<torch version>/ (outside the
# repo), so later environments install it in seconds. Prints the wheel's path.
# Usage: tools/build_mmcv.sh VENV   (used by tools/setup_env.sh)
set -euo pipefail
venv=$(cd "$1" && pwd)
MMCV_VERSION=${MMCV_VERSION:-2.1.0}
WHEELHOUSE=${GENLOC_WHEELHOUSE:-$HOME/.cache/genloc-mmpose/wheels}
torch_version=$("$venv/bin/python" -c 'import torch; print(torch.__version__.split("+")[0])')
out="$WHEELHOUSE/torch-$torch_version"
if ! ls "$out"/mmcv-"$MMCV_VERSION"-*.whl >/dev/null 2>&1; then
  echo "Building mmcv $MMCV_VERSION with CPU ops for torch $torch_version" \
       "(once per machine, ~10 min on 2 cores) ..." >&2
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  "$venv/bin/python" -m pip --disable-pip-version-check -q download --no-deps \
    --no-binary :all: -d "$tmp" "mmcv==$MMCV_VERSION" 2>&1 |
    { grep -v "^WARNING: Location '.*' is ignored" || true; } >&2
  tar -xzf "$tmp/mmcv-$MMCV_VERSION.tar.gz" -C "$tmp"
  # torch >= 2.10 headers need C++20.
  if "$venv/bin/python" -c 'import sys, torch; sys.exit(tuple(map(int,
      torch.__version__.split(".")[:2])) < (2, 10))'; then
    sed -i 's/-std=c++17/-std=c++20/g' "$tmp/mmcv-$MMCV_VERSION/setup.py"
  fi
  mkdir -p "$out"
  (cd "$tmp/mmcv-$MMCV_VERSION" && MMCV_WITH_OPS=1 FORCE_CUDA=0 CFLAGS=-g0 CXXFLAGS=-g0 \
     MAX_JOBS=${MAX_JOBS:-2} "$venv/bin/python" -m pip wheel -q --no-build-isolation \
     --no-deps -w "$out" . >&2)
fi
ls "$out"/mmcv-"$MMCV_VERSION"-*.whl
