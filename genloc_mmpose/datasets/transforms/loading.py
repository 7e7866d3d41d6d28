"""``GenLocLoadImage``: MMPose's ``LoadImage`` that names an unreadable file, and
optionally hands JPEGs on undecoded and keeps decodes."""
from typing import Optional

import numpy as np
from mmengine.fileio import get
from mmengine.logging import print_log
from mmpose.datasets.transforms import LoadImage
from mmpose.registry import TRANSFORMS

from .decoding import DecodeCache, EncodedImage, UnreadableImageError
from .jpeg import jpeg_size, truncated

ON_UNREADABLE = ('raise', 'skip')


@TRANSFORMS.register_module()
class GenLocLoadImage(LoadImage):
    """MMPose's ``LoadImage`` with unreadable images handled explicitly, and
    optionally a deferred, reduced-scale JPEG decode and a cache of recent images.

    A missing, empty, corrupt or truncated image file raises
    :class:`UnreadableImageError` naming the file, what is wrong and the fix;
    ``on_unreadable='skip'`` instead logs a warning with the running count of
    skipped files and returns ``None``, which MMEngine's datasets answer in
    training by drawing another sample (in test mode MMEngine refuses ``None``:
    every test image must be readable).

    Args:
        on_unreadable (str): ``'raise'`` (default) or ``'skip'``.
        reduced_decode (bool): hand on JPEGs undecoded (:class:`EncodedImage`) for
            ``GenLocTopdownAffine`` to decode at the scale the crop needs (1, 1/2,
            1/4 or 1/8; never fewer pixels than the model input). The pipeline
            must then use ``GenLocTopdownAffine`` (and ``GenLocRandomFlip`` for
            flips); other transforms that read the pixels before it get the full
            decode. Not for ``to_float32`` or a ``color_type`` other than
            ``'color'`` (those decode in full). Default False: MMPose's behaviour.
        cache_images (int): keep the decodes of the last N image files (at every
            scale used) and reuse them when the same file comes again with the
            same bytes: a test set with detections decodes each image once for
            all its boxes. 0 (default) keeps none; 1 is enough for datasets that
            list the boxes of an image together (MMPose's test sets).
        decode_cache_dir (str, optional): with ``reduced_decode``, a folder where
            each decode of a JPEG (at each scale a crop asked for) is kept as an
            uncompressed ``.npy`` named by the SHA-1 of the file's bytes and the
            scale, and read back (memory-mapped) instead of decoding again: the
            first epoch decodes, the later ones read. Shared safely by the
            dataloader's workers and by runs (each file is written to a temporary
            name and renamed). It costs disk: H x W x 3 / r^2 bytes per image and
            scale 1/r used (a 1024x683 photo: 2.1 MB in full, 0.5 MB at 1/2).
            Default None: decode every time.
        **kwargs: ``LoadImage``'s arguments.
    """

    def __init__(self, on_unreadable: str = 'raise', reduced_decode: bool = False,
                 cache_images: int = 0, decode_cache_dir: Optional[str] = None, **kwargs):
        super().__init__(**kwargs)
        if on_unreadable not in ON_UNREADABLE:
            raise ValueError(f'GenLocLoadImage on_unreadable must be one of {ON_UNREADABLE},'
                             f' got {on_unreadable!r}')
        if int(cache_images) < 0:
            raise ValueError(f'GenLocLoadImage cache_images must be >= 0, got {cache_images}')
        self.on_unreadable = on_unreadable
        self.reduced_decode = bool(reduced_decode)
        self.cache_images = int(cache_images)
        self.decode_cache_dir = decode_cache_dir
        if decode_cache_dir is not None and not self.defers_decode:
            raise ValueError(
                f'GenLocLoadImage decode_cache_dir={decode_cache_dir!r} keeps the reduced '
                'decodes of GenLocTopdownAffine: set reduced_decode=True (with the default '
                "color_type='color', to_float32=False, imdecode_backend='cv2'), or drop "
                'decode_cache_dir.')
        self.skipped = set()
        self.reads = 0
        self.cache = DecodeCache(self.cache_images, decode_cache_dir, self.color_type,
                                 self.imdecode_backend)

    @property
    def defers_decode(self) -> bool:
        """Whether JPEGs are handed on undecoded (:class:`EncodedImage`):
        ``reduced_decode`` with the default ``color_type``, ``to_float32`` and
        ``imdecode_backend``."""
        return (self.reduced_decode and not self.to_float32
                and self.color_type == 'color' and self.imdecode_backend == 'cv2')

    @property
    def stats(self) -> dict:
        """Counts so far: files read, memory cache hits, decodes, disk cache hits
        and writes."""
        return dict(reads=self.reads, **self.cache.stats)

    def decode(self, image: EncodedImage, factor: int) -> np.ndarray:
        """``image`` (one this loader handed on) decoded at 1 / ``factor`` (see
        :meth:`EncodedImage.decode`), from this loader's caches when they keep it.
        Raises ``OSError`` or ``ValueError`` when it cannot be decoded."""
        return self.cache.scaled(image, factor)

    def unreadable(self, path: str, err: Exception) -> None:
        """Answer a file that cannot be read or decoded (``err`` says why) as
        ``on_unreadable`` says: ``'skip'`` logs it with the running count and
        returns None (the sample is dropped); ``'raise'`` raises
        :class:`UnreadableImageError` naming the file, the reason and the fix.
        Also for a deferred decode that fails later (``GenLocTopdownAffine``)."""
        reason = 'the file does not exist' if isinstance(err, FileNotFoundError) else \
            str(err)
        if self.on_unreadable == 'skip':
            self.skipped.add(path)
            print_log(f'GenLocLoadImage: skipped {path}: {reason} ({len(self.skipped)} '
                      'unreadable images skipped so far).', logger='current', level=30)
            return None
        raise UnreadableImageError(
            f'Cannot load image {path}: {reason}. Replace or remove the file (and its '
            'annotations), or skip unreadable images in training with '
            'dict(type="GenLocLoadImage", on_unreadable="skip") in the pipeline.'
        ) from err

    def transform(self, results: dict) -> Optional[dict]:
        """Load ``results['img_path']`` (or take ``results['img']``) as LoadImage."""
        if 'img' in results:
            return super().transform(results)
        path = results['img_path']
        try:
            data = get(path, backend_args=self.backend_args)
            self.reads += 1
            if not data:
                raise UnreadableImageError('the file is empty')
            record = self.cache.record(path, data)
            if truncated(data):
                raise UnreadableImageError('the JPEG data ends early: the file is truncated')
            if self.defers_decode:
                if record['size'] is None:
                    record['size'] = jpeg_size(data) or ()
                if record['size']:
                    height, width = record['size']
                    results.update(img=EncodedImage(record['data'], path, height, width, self),
                                   img_shape=(height, width), ori_shape=(height, width))
                    return results
            img = self.cache.full(record)
        except (OSError, ValueError) as err:
            return self.unreadable(path, err)
        if self.to_float32:
            img = img.astype(np.float32)
        results.update(img=img, img_shape=img.shape[:2], ori_shape=img.shape[:2])
        return results

    def __repr__(self) -> str:
        return (f'{super().__repr__()[:-1]}, on_unreadable={self.on_unreadable!r}, '
                f'reduced_decode={self.reduced_decode}, '
                f'cache_images={self.cache_images}, '
                f'decode_cache_dir={self.decode_cache_dir!r})')
