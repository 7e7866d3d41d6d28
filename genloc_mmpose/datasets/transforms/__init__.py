"""Image loading that names the bad file and never decodes a truncated image, and
a top-down pipeline that decodes only the pixels the crop needs.

``GenLocLoadImage(reduced_decode=True)`` reads the file and its JPEG header but
defers decoding: ``results['img']`` is an :class:`EncodedImage`.
``GenLocRandomFlip`` records a flip on it instead of flipping pixels, and
``GenLocTopdownAffine`` decodes it at the coarsest JPEG DCT scale (1/2, 1/4, 1/8:
``cv2.IMREAD_REDUCED_COLOR_*``) at which the crop still has at least as many
pixels as the model input, and folds that scale and the flip into its one
``cv2.warpAffine``. Keypoints, boxes and targets are computed by MMPose's own
``RandomFlip`` / ``TopdownAffine`` code, unchanged; only the pixel source differs.
``cache_images=N`` keeps the decodes of the last N files, so that a test set with
many boxes per image (detections) decodes each image once; ``decode_cache_dir``
keeps every reduced decode on disk, so that training decodes each image once in
all its epochs.

- :mod:`.jpeg`: what a JPEG's bytes say (truncated? its decoded size);
- :mod:`.decoding`: :class:`EncodedImage`, the decodes kept (:class:`DecodeCache`);
- :mod:`.loading`: ``GenLocLoadImage``;
- :mod:`.topdown`: ``GenLocRandomFlip``, ``GenLocTopdownAffine``;
- :mod:`.pipeline`: whole pipelines: the build-time check that a deferred decode
  reaches ``GenLocTopdownAffine``, MMPose's pipeline for a GenLoc one
  (comparisons, benchmarks) and the reverse (users' configs).
"""
from .decoding import EncodedImage, UnreadableImageError
from .loading import GenLocLoadImage
from .pipeline import check_pipeline, check_pipelines_on_build, fast_pipeline, mmpose_pipeline
from .topdown import GenLocRandomFlip, GenLocTopdownAffine

__all__ = ['EncodedImage', 'GenLocLoadImage', 'GenLocRandomFlip', 'GenLocTopdownAffine',
           'UnreadableImageError', 'check_pipeline', 'check_pipelines_on_build',
           'fast_pipeline', 'mmpose_pipeline']
