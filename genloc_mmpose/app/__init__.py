"""GenLoc in the browser (``python tools/app.py``; docs/app.md): Look at keypoints and
correlation maps, find keypoints By name, Teach a new keypoint set. Needs the ``app``
extra (``pip install -e .[app]``)."""
import os.path as osp

from ..custom_keypoints import REPO

# The model served when no CONFIG CHECKPOINT is given: what `make demo` trains.
DEMO_CONFIG = osp.join(REPO, 'work_dirs', 'demo', 'genloc_demo.py')
DEMO_CHECKPOINT = osp.join(REPO, 'work_dirs', 'demo', 'genloc_demo.pth')
