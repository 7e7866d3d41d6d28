"""Write a small COCO-format keypoint dataset of procedurally drawn "marker creatures"
(genloc_mmpose.synthetic.markers: what they are and the layout of OUT).

Usage:
    python tools/misc/make_synthetic_keypoints.py [--out DIR] [--seed 0]
        [--num-train 1200] [--num-test 300] [--num-seen 200] [--size 160 160]
"""
import argparse
import os.path as osp

from genloc_mmpose.synthetic.markers import write_dataset


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--out', default=osp.join('data', 'synthetic_markers'))
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--num-train', type=int, default=1200)
    parser.add_argument('--num-test', type=int, default=300)
    parser.add_argument('--num-seen', type=int, default=200,
                        help='train images copied to synthetic_train-seen{N}.json')
    parser.add_argument('--size', type=int, nargs=2, default=(160, 160),
                        metavar=('W', 'H'))
    args = parser.parse_args()
    for line in write_dataset(args.out, args.seed, args.num_train, args.num_test,
                              args.num_seen, tuple(args.size)):
        print(line)


if __name__ == '__main__':
    main()
