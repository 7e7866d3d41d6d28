"""Run the synthetic CPU check: train + test each GenLoc variant on the procedural
marker dataset and print a markdown table of held-out AP (and AP on seen images)
(:mod:`genloc_mmpose.synthetic.ablation`; each variant as ``tools/train.py`` then
``tools/test.py`` would run it, in this process).

Usage:
    python tools/misc/synthetic_ablation.py [--work-dir work_dirs/synthetic]
        [--variants ckhe-hel crossattn-hel ...] [--cfg-options KEY=VALUE ...]
        [--threads 1]
The data is generated first if data/synthetic_markers/ is missing. Results go to
WORK_DIR/results.{md,json}.
"""
import argparse
import os.path as osp

import torch
from mmengine.config import DictAction

from genloc_mmpose.synthetic import ablation

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--work-dir', default=osp.join('work_dirs', 'synthetic'))
    parser.add_argument('--variants', nargs='+', default=list(ablation.VARIANTS),
                        choices=list(ablation.VARIANTS))
    parser.add_argument('--cfg-options', nargs='+', action=DictAction, default={})
    # one thread: on a small, shared CPU two OpenMP threads spinning against other
    # processes made a training step ~8x slower than one thread
    parser.add_argument('--threads', type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    results = ablation.run(osp.join(REPO, args.work_dir),
                           osp.join(REPO, 'data', 'synthetic_markers'), args.variants,
                           args.cfg_options)
    print(ablation.table(results))


if __name__ == '__main__':
    main()
