"""Fixes of upstream bugs, one module each, applied on ``import genloc_mmpose`` (and
only there). Each module's docstring names the bug and the versions it fixes; its
``applies()`` is the guard (the newest release still broken, or the build), its
``apply()`` the fix. ``tests/test_patches.py`` checks that upstream still has each bug:
the test that fails after an upgrade names the module to delete.

- :mod:`.checkpoint_globals`: mmengine's checkpoints under torch's safe loader
  (torch >= 2.6, mmengine <= 0.10.7).
- :mod:`.inferencer_bboxes`: ``MMPoseInferencer(..., bboxes=...)`` ignores the boxes
  (mmpose <= 1.3.2).
- :mod:`.config_package`: ``genloc_mmpose::`` base configs (mmengine <= 0.10.7).
- :mod:`.mmcv_cuda_ops`: NMS / RoIAlign of CUDA tensors with mmcv ops built
  without CUDA.
"""
from . import (checkpoint_globals, config_package, inferencer_bboxes, mmcv_cuda_ops)

PATCHES = (checkpoint_globals, inferencer_bboxes, config_package, mmcv_cuda_ops)


def apply_all() -> None:
    for patch in PATCHES:
        patch.apply()
