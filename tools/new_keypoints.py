"""A GenLoc config for your own keypoints, from COCO-keypoints exports (CVAT, Label
Studio, ...), a DeepLabCut project or a SLEAP file (genloc_mmpose/custom_keypoints.py;
installed, the same command is ``genloc-new-keypoints``; docs/custom_keypoints.md).

Usage: python tools/new_keypoints.py NAME --train LABELS [--val LABELS] [--test LABELS]
       [--img-root DIR (COCO)] [--arch sd15|tiny] [--weights SD_DIR] [...]
       (python tools/new_keypoints.py -h for all options)
"""
import warnings

# mmengine 0.10 imports pkg_resources (hence setuptools<81): understood, harmless.
warnings.filterwarnings('ignore', 'pkg_resources is deprecated', UserWarning)

from genloc_mmpose.custom_keypoints import main  # noqa: E402

if __name__ == '__main__':
    main()
