"""Train the miniature Stable Diffusion on the creature world (CPU; resumable).

Writes SD-1.5's diffusers layout (fp16 safetensors) to --out; the stages, model and
recipe are in genloc_mmpose/mini_sd/train.py. Run again with the same --work-dir to
resume (`--set unet_stop=N` ends at step N of the schedule; a later call without it
continues; `--set unet_minutes=M` stops after M minutes of U-Net training). With
the defaults:

    python tools/misc/train_mini_sd.py --work-dir work_dirs/mini_sd --out work_dirs/mini_sd/mini-sd

Usage: python tools/misc/train_mini_sd.py [--work-dir DIR] [--out DIR] [--seed 0]
    [--device cpu|cuda] [--threads N] [--set key=value ...]
    (e.g. --set unet_steps=100 vae_steps=20 num_images=500)
"""
import argparse
import ast
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

from genloc_mmpose.mini_sd.train import DEFAULTS, Trainer  # noqa: E402


def parse_set(items):
    """``key=value`` overrides of DEFAULTS (values as Python literals)."""
    cfg = {}
    for item in items:
        key, sep, value = item.partition('=')
        if not sep or key.split('.')[0] not in DEFAULTS:
            raise SystemExit(f'--set {item!r}: expected key=value with key one of '
                             f'{sorted(DEFAULTS)} (nested: vae.block_out_channels=...)')
        try:
            value = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            pass
        if '.' in key:
            outer, inner = key.split('.', 1)
            cfg.setdefault(outer, dict(DEFAULTS[outer]))[inner] = value
        else:
            cfg[key] = value
    return cfg


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--work-dir', default='work_dirs/mini_sd')
    parser.add_argument('--out', default='work_dirs/mini_sd/mini-sd')
    parser.add_argument('--seed', type=int, default=DEFAULTS['seed'])
    parser.add_argument('--threads', type=int, default=0, help='torch threads (0: all)')
    parser.add_argument('--device', default='cpu',
                        help="where to train: 'cpu' or 'cuda' (a GPU machine: the same "
                        'recipe in minutes; tools/misc/mini_sd_gpu.sh)')
    parser.add_argument('--set', nargs='*', default=[], metavar='KEY=VALUE')
    args = parser.parse_args()
    cfg = dict(parse_set(args.set), seed=args.seed)
    Trainer(cfg, args.work_dir, args.out, threads=args.threads, device=args.device).run()


if __name__ == '__main__':
    main()
