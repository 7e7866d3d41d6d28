"""Write images of the procedural creature world with COCO keypoint labels.

The world (families, keypoints, captions) is genloc_mmpose/synthetic/creatures.py;
each image is determined by (seed, split, index). The miniature SD trains on the
'train' split; GenLoc's labelled images come from 'val' and its test images from
'test'.

Usage:
    python tools/misc/make_creatures.py [--out data/creatures] [--split val]
        [--num 1000] [--seed 0] [--size 64] [--families grazer hound ...] [--name NAME]
    python tools/misc/make_creatures.py --examples demo/data/creatures
        (the app's example creatures: the first 4 test images enlarged 4x, JPEG, beside
        their COCO json)
"""
import argparse
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

from genloc_mmpose.synthetic.creatures import (  # noqa: E402
    FAMILIES, SPLITS, write_coco, write_examples)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--out', default=osp.join('data', 'creatures'))
    parser.add_argument('--split', default='val', choices=SPLITS)
    parser.add_argument('--num', type=int, default=1000)
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--size', type=int, default=64)
    parser.add_argument('--families', nargs='+', default=list(FAMILIES),
                        choices=list(FAMILIES))
    parser.add_argument('--name', help='annotation file name (default creatures_SPLIT)')
    parser.add_argument('--examples', metavar='DIR',
                        help="instead: write the app's example creatures into DIR")
    args = parser.parse_args()
    if args.examples:
        print(write_examples(args.examples))
        return
    path = write_coco(args.out, args.split, args.num, args.seed, args.size, args.families,
                      args.name)
    print(f'{args.num} images of {args.split} -> {path}')


if __name__ == '__main__':
    main()
