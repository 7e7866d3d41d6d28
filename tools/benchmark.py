#!/usr/bin/env python
"""Throughput and memory of a GenLoc config: train step, inference, the test loop,
data loading (genloc_mmpose/benchmark/, docs/benchmarks.md).

Usage: python tools/benchmark.py CONFIG [--random-weights] [--batch-size B]
       [--input-size W H] [--dtype fp32|bf16] [--modes train infer test inferencer]
       [--loader] [--device cuda|cpu] [--json FILE]   (-h for all options)
       python tools/benchmark.py --suite OUT_DIR [--dry-run]   (the GPU suite)

Example (SD-1.5 architecture with random weights, nothing downloaded):

    python tools/benchmark.py \
        configs/genloc/ap10k/genloc_sd15-lora16_8xb25-100e_ap10k-256x256.py \
        --random-weights --batch-size 32 --input-size 256 256 --dtype bf16 \
        --modes train infer --iters 10 --warmup 3 --device cuda --json bench.json
"""
import warnings

# mmengine 0.10 imports pkg_resources (hence setuptools<81): understood, harmless.
warnings.filterwarnings('ignore', 'pkg_resources is deprecated', UserWarning)

from genloc_mmpose.benchmark.cli import main  # noqa: E402

if __name__ == '__main__':
    main()
