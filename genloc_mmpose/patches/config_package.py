"""mmengine <= 0.10.7 resolves ``pkg::`` base configs only for the packages in its own
table (``MODULE2PACKAGE``), and finds a package's files where its distribution is
installed, which for an editable (PEP 660) install is not where the package lives.

The fix: ``_base_ = ['genloc_mmpose::genloc/...']`` names
``genloc_mmpose/.mim/configs/genloc/...`` of the imported package.
"""
import functools
import os.path as osp

from mmengine.utils import digit_version

FIXED_UP_TO = '0.10.7'  # the newest mmengine release; checked by tests/test_patches.py
PACKAGE_DIR = osp.dirname(osp.dirname(osp.abspath(__file__)))  # genloc_mmpose/


def applies() -> bool:
    import mmengine
    return digit_version(mmengine.__version__) <= digit_version(FIXED_UP_TO)


def apply() -> None:
    """``genloc_mmpose::`` base configs in mmengine."""
    from mmengine.config import config, utils
    if not applies():
        return
    utils.MODULE2PACKAGE.setdefault('genloc_mmpose', 'genloc_mmpose')
    original = config.get_installed_path
    if getattr(original, '__genloc_fix__', False):
        return

    @functools.wraps(original)
    def get_installed_path(package: str) -> str:
        if package == 'genloc_mmpose':
            return PACKAGE_DIR
        return original(package)

    get_installed_path.__genloc_fix__ = True
    config.get_installed_path = get_installed_path
