"""A GenLoc config for your own keypoints, from COCO-keypoints exports (CVAT, Label
Studio, ...), a DeepLabCut project or a SLEAP file: writes the MMPose metainfo and a
config, prints the train / test / inference commands; the last line of stdout is the
config's path.

Usage: python tools/new_keypoints.py NAME --train LABELS [--val LABELS] [--test LABELS]
       [--img-root DIR (COCO)] [--val-fraction F] [--seed S] [--box-margin M]
       [--data-dir DIR] [--arch sd15|tiny] [--weights SD_DIR] [--input-size W H]
       [--epochs N] [--flip-pairs a:b,c:d] [--sigma S] [--category NAME]
       [--object NAME] [--out-dir DIR]
LABELS: a COCO-keypoints .json, a DeepLabCut project (folder or config.yaml) or a
SLEAP .slp file. See docs/custom_keypoints.md.
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
    labels = 'COCO-keypoints .json, DeepLabCut project (folder or config.yaml) or SLEAP .slp'
    parser.add_argument('--train', required=True, help=f'labels to train on: {labels}')
    parser.add_argument('--val', help='labels to validate on (default: --val-fraction of '
                        'the --train images, split by image)')
    parser.add_argument('--test', help='labels to test on (default: --val)')
    parser.add_argument('--img-root', help='COCO files: the folder that '
                        'images[].file_name is relative to')
    parser.add_argument('--val-fraction', type=float, default=0.2,
                        help='without --val: the share of the --train images to validate on')
    parser.add_argument('--seed', type=int, default=0, help='seed of that split')
    parser.add_argument('--box-margin', type=float, default=0.1,
                        help='DeepLabCut / SLEAP: boxes are the labelled points\' box grown '
                        'by this share of its longer side on each side')
    parser.add_argument('--data-dir', help='where DeepLabCut / SLEAP labels and split sets '
                        'are written as COCO (default: work_dirs/<config name>/data)')
    parser.add_argument('--arch', default='sd15', choices=list(ARCHS),
                        help='sd15: the SD-1.5 recipe; tiny: a random-weight CPU model '
                        '(a dry run of the whole chain in minutes)')
    parser.add_argument('--weights', default='checkpoints/stable-diffusion-v1-5',
                        help='local Stable Diffusion weights (sd15)')
    parser.add_argument('--input-size', type=int, nargs=2, metavar=('W', 'H'))
    parser.add_argument('--epochs', type=int, help='default: see docs/custom_keypoints.md')
    parser.add_argument('--flip-pairs', help='"a:b,c:d" keypoint names ("" for none); '
                        "default: a SLEAP skeleton's symmetries, else inferred from the "
                        'names')
    parser.add_argument('--sigma', type=float, default=DEFAULT_SIGMA,
                        help='OKS sigma of every keypoint')
    parser.add_argument('--category', help='the category whose keypoints to use, when '
                        'the export holds several keypoint lists')
    parser.add_argument('--object', help='object name in the text prompts (default: the '
                        'COCO category name; DeepLabCut / SLEAP: NAME)')
    parser.add_argument('--out-dir', default='configs/custom')
    args = parser.parse_args()
    try:
        config, report = new_keypoint_config(
            args.name, args.train, args.val, args.img_root, test=args.test, arch=args.arch,
            weights=args.weights, input_size=args.input_size, epochs=args.epochs,
            flip_pairs=args.flip_pairs, sigma=args.sigma, out_dir=args.out_dir,
            category=args.category, object_name=args.object,
            val_fraction=args.val_fraction, seed=args.seed, box_margin=args.box_margin,
            data_dir=args.data_dir)
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
