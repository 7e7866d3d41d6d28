"""GenLoc for MMPose 1.x: ``import genloc_mmpose`` (or
``custom_imports=dict(imports=['genloc_mmpose'])`` in a config) registers the GenLoc
backbone, head, loss and codec into MMPose's registries, lets mmengine read the
shipped configs as ``genloc_mmpose::genloc/...`` base configs (after the import), and
checks each data pipeline as it is built (a deferred JPEG decode needs
``GenLocTopdownAffine``)."""
from . import patches
from .codecs import *  # noqa: F401,F403
from .datasets import *  # noqa: F401,F403
from .engine import *  # noqa: F401,F403
from .evaluation import *  # noqa: F401,F403
from .models import *  # noqa: F401,F403
from . import registry  # noqa: F401  (the registries of the genloc_mmpose scope)
from .datasets.transforms import check_pipelines_on_build

__version__ = '0.1.0'

patches.apply_all()  # upstream fixes, one module each (genloc_mmpose/patches/)
check_pipelines_on_build()  # mmengine's Compose has no hook for it
