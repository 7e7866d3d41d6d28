"""GenLoc in the browser: Look at keypoints and correlation maps, find keypoints By
name, Teach a new keypoint set (docs/app.md). Needs `pip install -e .[app]`.

Usage: python tools/app.py [CONFIG CHECKPOINT] [--device cpu|cuda] [--host 127.0.0.1]
       [--port 7860] [--share] [--det-config C --det-checkpoint W] [--work-dir DIR]
"""
import warnings

# mmengine 0.10 imports pkg_resources (hence setuptools<81): understood, harmless.
warnings.filterwarnings('ignore', 'pkg_resources is deprecated', UserWarning)

from genloc_mmpose.app.cli import main  # noqa: E402

if __name__ == '__main__':
    main()
