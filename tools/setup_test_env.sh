#!/usr/bin/env bash
# What the tests need beside .venv (idempotent; `make test` runs it, `make demo` does
# not): Debian's Chromium for the browser tests, Label Studio in a virtualenv of its own.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3.11}

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
