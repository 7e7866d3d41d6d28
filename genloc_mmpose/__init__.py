"""GenLoc for MMPose 1.x: ``import genloc_mmpose`` (or
``custom_imports=dict(imports=['genloc_mmpose'])`` in a config) registers the GenLoc
backbone, head, loss and codec into MMPose's registries, and lets mmengine read the
shipped configs as ``genloc_mmpose::genloc/...`` base configs (after the import)."""
from . import patches
from .codecs import *  # noqa: F401,F403
from .datasets import *  # noqa: F401,F403
from .engine import *  # noqa: F401,F403
from .evaluation import *  # noqa: F401,F403
from .models import *  # noqa: F401,F403
from . import registry  # noqa: F401  (the registries of the genloc_mmpose scope)

__version__ = '0.1.0'

patches.apply_all()  # upstream fixes, one module each (genloc_mmpose/patches/)
