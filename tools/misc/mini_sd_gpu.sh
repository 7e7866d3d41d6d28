#!/usr/bin/env bash
# The miniature Stable Diffusion's recipe on a GPU machine (the `device` tool's H200,
# or any CUDA GPU): the same stages as the 2-core CPU run, with more U-Net steps in a
# fixed time budget. Writes the pipeline folder to OUT/mini-sd and the logs
# (train_*.log, console.txt) beside it; the world, latents and states stay in WORK (not copied back).
#
#   tools/misc/mini_sd_gpu.sh OUT [KEY=VALUE ...]      e.g. on the device machine:
#   tools/misc/mini_sd_gpu.sh "$OUT"                    (~8 min on one H200)
#
# DEVICE (default cuda), WORK (default /tmp/mini_sd_gpu), MINUTES (U-Net budget,
# default 6) and extra --set overrides (e.g. num_images=64 for a dry run) are options.
set -euo pipefail
OUT=${1:?usage: tools/misc/mini_sd_gpu.sh OUT [KEY=VALUE ...]}
shift
DEVICE=${DEVICE:-cuda}
WORK=${WORK:-/tmp/mini_sd_gpu}
MINUTES=${MINUTES:-6}
PY=${PY:-python}
mkdir -p "$OUT"
"$PY" tools/misc/train_mini_sd.py --device "$DEVICE" --work-dir "$WORK" --out "$OUT/mini-sd" \
    --set unet_steps=20000 unet_batch=128 save_every=1000 log_every=200 \
    "unet_minutes=$MINUTES" "$@" > "$OUT/console.txt" 2>&1 || { tail -c 3000 "$OUT/console.txt"; exit 1; }
cp "$WORK"/train_*.log "$WORK"/config.json "$OUT/"
cat "$OUT"/train_*.log
