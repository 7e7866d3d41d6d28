"""The README's demo: GenLoc few-shot on the shipped miniature Stable Diffusion
(demo/mini-sd) beside the same architecture with random weights, trained on a few
labelled creatures and tested on held-out ones on the CPU; keypoints from names
alone; a picture of predictions and correlation maps. The prior's model is left as
work_dirs/demo/genloc_demo.{py,pth}, the model tools/app.py serves
(genloc_mmpose/mini_sd/demo.py).

Usage: python tools/demo.py [--work-dir work_dirs/demo/creatures] [--sd demo/mini-sd]
    [--labels 25] [--iters 200] [--test-images 100] [--seed 0]
"""
import argparse
import os.path as osp
import sys
import warnings

# mmengine 0.10 imports pkg_resources (hence setuptools<81): understood, harmless.
warnings.filterwarnings('ignore', 'pkg_resources is deprecated', UserWarning)
sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

import genloc_mmpose  # noqa: F401,E402
from genloc_mmpose.app import DEMO_CONFIG  # noqa: E402
from genloc_mmpose.mini_sd import demo, experiments  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--work-dir', default=osp.join(osp.dirname(DEMO_CONFIG), 'creatures'))
    parser.add_argument('--sd', default=experiments.MINI_SD,
                        help='the prior: a Stable Diffusion folder (diffusers layout)')
    parser.add_argument('--labels', type=int, default=demo.LABELS)
    parser.add_argument('--iters', type=int, default=demo.ITERS)
    parser.add_argument('--test-images', type=int, default=demo.TEST_IMAGES)
    parser.add_argument('--seed', type=int, default=demo.SEED)
    args = parser.parse_args()
    demo.main(args.work_dir, sd=args.sd, labels=args.labels, iters=args.iters,
              test_images=args.test_images, seed=args.seed)


if __name__ == '__main__':
    main()
