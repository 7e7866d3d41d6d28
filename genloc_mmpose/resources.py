"""Where GenLoc's own files are, the same installed from a wheel as checked out.

Shipped files (``configs/``, ``tools/``, ``demo/``: the miniature SD and the example
images) are in OpenMMLab's layout ``genloc_mmpose/.mim/`` (as mmpose's own): a wheel
holds copies, an editable install links them to the checkout (setup.py). A checkout
that was never installed is read directly. Outputs never go into the package: they go
under the working directory (``work_dirs/``), as MMPose's tools do.
"""
import os.path as osp

PACKAGE = osp.dirname(osp.abspath(__file__))
MIM = osp.join(PACKAGE, '.mim')
# diffusers configs of the Stable Diffusion architectures (package data)
ARCH_DIR = osp.join(PACKAGE, 'configs')


def shipped(*parts: str) -> str:
    """The path of a shipped file or folder, e.g. ``shipped('demo', 'mini-sd')``:
    under ``genloc_mmpose/.mim/`` when the package has one, else in the checkout
    that holds the package."""
    root = MIM if osp.isdir(MIM) else osp.dirname(PACKAGE)
    return osp.join(root, *parts)


def config_file(*parts: str) -> str:
    """A shipped config, e.g. ``config_file('genloc', 'tiny', 'x.py')``."""
    return shipped('configs', *parts)


# The miniature Stable Diffusion (demo/mini-sd/README.md) and the model `genloc-demo`
# trains and the app serves by default (relative: under the working directory).
MINI_SD = shipped('demo', 'mini-sd')
DEMO_EXAMPLES = shipped('demo', 'data')
DEMO_WORK_DIR = osp.join('work_dirs', 'demo')
DEMO_CONFIG = osp.join(DEMO_WORK_DIR, 'genloc_demo.py')
DEMO_CHECKPOINT = osp.join(DEMO_WORK_DIR, 'genloc_demo.pth')
