"""A GenLoc config for your own keypoints, from COCO-keypoints exports (CVAT, Label
Studio, ...): writes the MMPose metainfo and a config, prints the train / test /
inference commands; the last line of stdout is the config's path.

Usage: python tools/new_keypoints.py NAME --train TRAIN.json --val VAL.json
       --img-root DIR [--test TEST.json] [--arch sd15|tiny] [--weights SD_DIR]
       [--input-size W H] [--epochs N] [--flip-pairs a:b,c:d] [--sigma S]
       [--category NAME] [--object NAME] [--out-dir DIR]
See docs/custom_keypoints.md.
"""
import argparse
import os.path as osp
import sys
import warnings

# mmengine 0.10 imports pkg_resources (hence setuptools<81): understood, harmless.
warnings.filterwarnings('ignore', 'pkg_resources is deprecated', UserWarning)

from genloc_mmpose.custom_keypoints import ARCHS, new_keypoint_config  # noqa: E402
from genloc_mmpose.datasets.keypoint_metainfo import DEFAULT_SIGMA  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('name', help='name of the keypoint set (dataset and file names)')
    parser.add_argument('--train', required=True, help='COCO-keypoints json to train on')
    parser.add_argument('--val', required=True, help='COCO-keypoints json to validate on')
    parser.add_argument('--test', help='COCO-keypoints json to test on (default: --val)')
    parser.add_argument('--img-root', required=True,
                        help='folder that images[].file_name is relative to')
    parser.add_argument('--arch', default='sd15', choices=list(ARCHS),
                        help='sd15: the SD-1.5 recipe; tiny: a random-weight CPU model '
                        '(a dry run of the whole chain in minutes)')
    parser.add_argument('--weights', default='checkpoints/stable-diffusion-v1-5',
                        help='local Stable Diffusion weights (sd15)')
    parser.add_argument('--input-size', type=int, nargs=2, metavar=('W', 'H'))
    parser.add_argument('--epochs', type=int, help='default: see docs/custom_keypoints.md')
    parser.add_argument('--flip-pairs', help='"a:b,c:d" keypoint names ("" for none); '
                        'default: inferred from the names')
    parser.add_argument('--sigma', type=float, default=DEFAULT_SIGMA,
                        help='OKS sigma of every keypoint')
    parser.add_argument('--category', help='the category whose keypoints to use, when '
                        'the export holds several keypoint lists')
    parser.add_argument('--object', help='object name in the text prompts (default: the '
                        'category name)')
    parser.add_argument('--out-dir', default='configs/custom')
    args = parser.parse_args()
    try:
        config, report = new_keypoint_config(
            args.name, args.train, args.val, args.img_root, test=args.test, arch=args.arch,
            weights=args.weights, input_size=args.input_size, epochs=args.epochs,
            flip_pairs=args.flip_pairs, sigma=args.sigma, out_dir=args.out_dir,
            category=args.category, object_name=args.object)
    except (ValueError, FileNotFoundError) as err:
        sys.exit(f'new_keypoints.py: error: {err}')
    work_dir = osp.join('work_dirs', osp.splitext(osp.basename(config))[0])
    ckpt = osp.join(work_dir, 'last_checkpoint')
    print('\n'.join(report))
    print(f'\nTrain, test (the checkpoint named in {ckpt}), infer:')
    print(f'  python tools/train.py {config}')
    print(f'  python tools/test.py {config} $(cat {ckpt})')
    print(f'  python -c "import genloc_mmpose; from mmpose.apis import MMPoseInferencer; '
          f"next(MMPoseInferencer(pose2d='{config}', pose2d_weights='$(cat {ckpt})', "
          f"det_model='whole_image')('IMAGE.jpg', vis_out_dir='vis'))\"")
    print(config)


if __name__ == '__main__':
    main()
