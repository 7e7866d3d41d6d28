"""Is the miniature Stable Diffusion a prior? Before any GenLoc training: its held-out
denoising error with the caption, with an empty caption and for a random U-Net, and
the PCK of conditions made from keypoint names (docs/experiments.md, "GenLoc on a
miniature Stable Diffusion"). The logic is in genloc_mmpose/mini_sd/prior.py.

With --samples FILE it also samples images from held-out captions (a grid, one
caption per row; --prompts: these captions instead), and with --curve FILE
--train-dir DIR draws the training curve from the trainer's logs in DIR. --num 0
skips the measurements.

Usage: python tools/misc/mini_sd_prior.py [--sd demo/mini-sd] [--num 256] [--seed 0]
    [--out-json work_dirs/mini_sd_prior.json]
    [--samples FILE [--captions 6 | --prompts TEXT [TEXT ...]]]
    [--curve FILE --train-dir work_dirs/mini_sd [--curve-offset N]]
"""
import argparse
import os.path as osp
import sys
import warnings

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))
warnings.filterwarnings('ignore', 'pkg_resources is deprecated', UserWarning)

from genloc_mmpose.mini_sd.experiments import MINI_SD  # noqa: E402
from genloc_mmpose.mini_sd.prior import report, training_curve  # noqa: E402
from genloc_mmpose.mini_sd.train import sample_grid  # noqa: E402
from genloc_mmpose.synthetic import creatures  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--sd', default=MINI_SD, help='the miniature SD folder')
    parser.add_argument('--num', type=int, default=256, help='held-out images')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--out-json', default=None)
    parser.add_argument('--samples', help='write a grid of samples from held-out captions')
    parser.add_argument('--captions', type=int, default=6, help='rows of the grid')
    parser.add_argument('--prompts', nargs='+', help='sample these captions instead')
    parser.add_argument('--curve', help='write the training curve (with --train-dir)')
    parser.add_argument('--train-dir', help="tools/misc/train_mini_sd.py's --work-dir")
    parser.add_argument('--curve-offset', type=int, default=0,
                        help='U-Net steps trained before --train-dir (a run continued '
                        'with init=)')
    args = parser.parse_args()
    if args.curve and not args.train_dir:
        parser.error('--curve needs --train-dir (the folder with train_*.log)')
    if args.prompts and not args.samples:
        parser.error('--prompts needs --samples FILE (the grid to write)')
    if args.num:
        print(report(args.sd, args.num, args.seed, args.out_json))
    if args.samples:
        captions = args.prompts or [creatures.make_creature(args.seed, 'test', i)['caption']
                                    for i in range(args.captions)]
        sample_grid(args.sd, captions, args.samples, seed=args.seed)
        print(f'samples: {args.samples}; captions, one per row:')
        print('\n'.join(f'{i + 1}. {c}' for i, c in enumerate(captions)))
    if args.curve:
        print(f'training curve: {training_curve(args.train_dir, args.curve, args.curve_offset)}')


if __name__ == '__main__':
    main()
