"""Whole pipelines: the check that a deferred decode reaches ``GenLocTopdownAffine``
(run as MMEngine builds each pipeline), and the GenLoc pipeline <-> MMPose's."""
import copy
import functools
from typing import Sequence

from mmengine.dataset import Compose
from mmpose.datasets.transforms import TopdownAffine

from .loading import GenLocLoadImage
from .topdown import GenLocTopdownAffine

FAST_TO_MMPOSE = dict(GenLocRandomFlip='RandomFlip', GenLocTopdownAffine='TopdownAffine')
MMPOSE_TO_FAST = {mmpose: fast for fast, mmpose in FAST_TO_MMPOSE.items()}
# the smallest model input side (px) at which :func:`fast_pipeline` reduces the decode:
# at the shipped configs' sizes (192x256, 256x256) the crops stay within the 22 dB
# PSNR of MMPose's that tests/test_fast_pipeline.py asserts; on the same sample images
# at 128 px they fall to 21 dB, at 64 px to 18.5 dB
REDUCED_DECODE_MIN_INPUT = 192


def check_pipeline(transforms: Sequence) -> None:
    """Raise ``ValueError`` if a ``GenLocLoadImage`` among the built ``transforms``
    hands JPEGs on undecoded (``reduced_decode``) and the first ``TopdownAffine``
    after it is not a ``GenLocTopdownAffine`` or there is none: MMPose's would
    fail inside ``cv2.warpAffine``. Transforms between them that read the pixels
    with NumPy get the full decode (:class:`EncodedImage`)."""
    for start, loader in enumerate(transforms):
        if not (isinstance(loader, GenLocLoadImage) and loader.defers_decode):
            continue
        affines = [(number, t) for number, t in enumerate(transforms[start + 1:], start + 2)
                   if isinstance(t, TopdownAffine)]
        if affines and isinstance(affines[0][1], GenLocTopdownAffine):
            continue
        where = 'no GenLocTopdownAffine follows it' if not affines else (
            f'{type(affines[0][1]).__name__} (transform {affines[0][0]}) would get them and '
            'cannot warp them (it fails inside cv2.warpAffine)')
        raise ValueError(
            f'GenLocLoadImage(reduced_decode=True) (transform {start + 1} of the pipeline) '
            'hands on JPEGs undecoded for GenLocTopdownAffine to decode at the crop\'s '
            f'scale, but {where}. Use GenLocTopdownAffine in place of TopdownAffine (the '
            'same arguments), or set reduced_decode=False in GenLocLoadImage.')


def check_pipelines_on_build() -> None:
    """Run :func:`check_pipeline` on every pipeline MMEngine's ``Compose`` builds
    (datasets, MMPose's inferencer and ``inference_topdown`` build theirs with it),
    so that a wrong pipeline fails when it is built, not inside OpenCV at its first
    sample. MMEngine has no hook for a check of a whole pipeline (``Compose``
    builds each transform alone): this wraps ``Compose.__init__``, once. Called by
    ``import genloc_mmpose``."""
    init = Compose.__init__
    if getattr(init, '__genloc_check__', False):
        return

    @functools.wraps(init)
    def checked_init(self, transforms):
        init(self, transforms)
        check_pipeline(self.transforms)

    checked_init.__genloc_check__ = True
    Compose.__init__ = checked_init


def mmpose_pipeline(pipeline: list) -> list:
    """A copy of ``pipeline`` as MMPose's own transforms run it: no deferred or
    reduced decode, no image cache (``GenLocLoadImage``'s checks stay),
    ``RandomFlip`` and ``TopdownAffine`` for their GenLoc subclasses (which
    behave exactly as those when the loader hands them arrays). Without
    ``decode_cache_dir`` either."""
    out = []
    for transform in copy.deepcopy(list(pipeline)):
        transform = dict(transform)
        if transform.get('type') == 'GenLocLoadImage':
            transform.update(reduced_decode=False, cache_images=0)
            transform.pop('decode_cache_dir', None)
        elif transform.get('type') in FAST_TO_MMPOSE:
            transform['type'] = FAST_TO_MMPOSE[transform['type']]
            transform.pop('max_reduction', None)
        out.append(transform)
    return out


def fast_pipeline(pipeline: list, input_size: Sequence[int], test_mode: bool = False) -> list:
    """A copy of ``pipeline`` (for a model input of ``input_size``, (W, H)) with the
    data options of the shipped configs where it does not set them. Training:
    ``GenLocLoadImage(reduced_decode=True)``, and ``GenLocRandomFlip`` /
    ``GenLocTopdownAffine`` for ``RandomFlip`` / ``TopdownAffine``: MMPose's labels,
    the flip folded into the warp, the JPEG decoded at the crop's scale (in full,
    ``max_reduction=1``, below :data:`REDUCED_DECODE_MIN_INPUT`). Test mode:
    ``cache_images=1`` (each image decoded once for all its boxes; MMPose's crops,
    byte for byte)."""
    small = min(input_size) < REDUCED_DECODE_MIN_INPUT
    out = []
    for transform in copy.deepcopy(list(pipeline)):
        transform = dict(transform)
        kind = transform.get('type')
        if kind == 'GenLocLoadImage':
            if test_mode:
                transform.setdefault('cache_images', 1)
            else:
                transform.setdefault('reduced_decode', True)
        elif not test_mode:
            transform['type'] = kind = MMPOSE_TO_FAST.get(kind, kind)
            if kind == 'GenLocTopdownAffine' and small:
                transform.setdefault('max_reduction', 1)
        out.append(transform)
    return out
