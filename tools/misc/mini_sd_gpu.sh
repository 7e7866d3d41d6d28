#!/usr/bin/env bash
# The miniature Stable Diffusion on a GPU machine (the `device` tool's H200, or any
# CUDA GPU): the stages of the CPU run (genloc_mmpose/mini_sd/train.py) with 8000
# U-Net steps of batch 128 (the 2-core CPU run: 2750 of 64), MINUTES as a safety net.
# OUT receives mini-sd.tar (the pipeline folder: `tar -xf OUT/mini-sd.tar -C DEST`),
# the training log, its config and the console output: four files, within what the
# device tool brings back. The world, latents and states stay in WORK.
#
#   tools/misc/mini_sd_gpu.sh OUT [KEY=VALUE ...]      e.g. on the device machine:
#   tools/misc/mini_sd_gpu.sh "$OUT"
#
# Options: DEVICE (default cuda), WORK (default /tmp/mini_sd_gpu; a run with other
# data or model settings needs its own), MINUTES (U-Net time limit, default 7), PY,
# and --set overrides of the recipe (e.g. num_images=64 ... for a dry run).
set -euo pipefail
OUT=${1:?usage: tools/misc/mini_sd_gpu.sh OUT [KEY=VALUE ...]}
shift
DEVICE=${DEVICE:-cuda}
WORK=${WORK:-/tmp/mini_sd_gpu}
MINUTES=${MINUTES:-7}
PY=${PY:-python}
mkdir -p "$OUT"
"$PY" tools/misc/train_mini_sd.py --device "$DEVICE" --work-dir "$WORK" --out "$WORK/mini-sd" \
    --set unet_steps=8000 unet_batch=128 save_every=1000 log_every=200 \
    "unet_minutes=$MINUTES" "$@" > "$OUT/console.txt" 2>&1 || { tail -c 3000 "$OUT/console.txt"; exit 1; }
tar -C "$WORK" -cf "$OUT/mini-sd.tar" mini-sd
cat "$WORK"/train_*.log > "$OUT/train.log"
cp "$WORK/config.json" "$OUT/"
cat "$OUT/train.log"
