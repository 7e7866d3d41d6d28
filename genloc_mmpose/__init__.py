"""GenLoc for MMPose 1.x: ``import genloc_mmpose`` (or
``custom_imports=dict(imports=['genloc_mmpose'])`` in a config) registers the GenLoc
backbone, head, loss and codec into MMPose's registries, and lets mmengine read the
shipped configs as ``genloc_mmpose::genloc/...`` base configs (after the import)."""
from .checkpoint import allow_mmengine_checkpoint_globals
from .codecs import *  # noqa: F401,F403
from .compat import (fix_atomic_checkpoints, fix_cpu_only_mmcv_ops,
                     fix_pose2d_inferencer_bboxes, register_config_package)
from .datasets import *  # noqa: F401,F403
from .engine import *  # noqa: F401,F403
from .evaluation import *  # noqa: F401,F403
from .models import *  # noqa: F401,F403
from . import registry  # noqa: F401  (the registries of the genloc_mmpose scope)

__version__ = '0.1.0'

allow_mmengine_checkpoint_globals()
fix_pose2d_inferencer_bboxes()
fix_atomic_checkpoints()
register_config_package()
fix_cpu_only_mmcv_ops()
