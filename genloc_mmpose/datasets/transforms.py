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
"""
import hashlib
import io
import math
import os.path as osp
from collections import OrderedDict
from typing import Optional

import cv2
import numpy as np
from mmengine.fileio import get
from mmengine.logging import print_log
from mmpose.datasets.transforms import LoadImage, RandomFlip, TopdownAffine
from mmpose.registry import TRANSFORMS
from mmpose.structures.bbox import get_udp_warp_matrix, get_warp_matrix

from ..fileio import atomic_write

ON_UNREADABLE = ('raise', 'skip')
# JPEG DCT scaling that OpenCV (libjpeg-turbo) offers, as 1/r
REDUCED_FLAGS = {1: cv2.IMREAD_COLOR, 2: cv2.IMREAD_REDUCED_COLOR_2,
                 4: cv2.IMREAD_REDUCED_COLOR_4, 8: cv2.IMREAD_REDUCED_COLOR_8}
EXIF_ORIENTATION = 0x0112


class UnreadableImageError(OSError):
    """An image file that cannot be read or decoded completely."""


def _truncated(data: bytes) -> bool:
    """Whether ``data`` is a JPEG without its end-of-image marker (a partial
    download or copy). OpenCV decodes such files without an error, filling the
    missing rows with grey. The marker may be followed by a few padding bytes; it
    cannot occur inside the compressed data (0xFF is stuffed there)."""
    return data[:2] == b'\xff\xd8' and b'\xff\xd9' not in data[-1024:]


# start-of-frame markers: C0-CF but DHT (C4), JPG (C8) and DAC (CC)
SOF_MARKERS = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}


def _exif_orientation(tiff: bytes) -> Optional[int]:
    """The orientation tag of an EXIF block's first IFD (1 if absent), None if the
    block cannot be read."""
    order = {b'II': 'little', b'MM': 'big'}.get(tiff[:2])
    if order is None or len(tiff) < 8:
        return None
    ifd = int.from_bytes(tiff[4:8], order)
    if ifd + 2 > len(tiff):
        return None
    count = int.from_bytes(tiff[ifd:ifd + 2], order)
    for entry in range(ifd + 2, min(ifd + 2 + 12 * count, len(tiff) - 11), 12):
        if int.from_bytes(tiff[entry:entry + 2], order) == EXIF_ORIENTATION:
            return int.from_bytes(tiff[entry + 8:entry + 10], order)
    return 1


def _jpeg_size(data: bytes) -> Optional[tuple]:
    """(height, width) from the header of a JPEG that OpenCV decodes to exactly
    that size at every DCT scale: 8-bit, 3 components (YCbCr) or 1 (grey), no EXIF
    rotation. None for anything else (PNG, CMYK, a rotated photo, a header that
    does not parse): those are decoded in full, as before. Reads the markers up to
    the frame header (tens of microseconds)."""
    if data[:2] != b'\xff\xd8':
        return None
    pos, orientation = 2, 1
    while pos + 4 <= len(data):
        if data[pos] != 0xFF:
            return None
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        if marker == 0x01 or 0xD0 <= marker <= 0xD8:  # no length
            pos += 2
            continue
        if marker in (0xD9, 0xDA):  # end of image / start of scan before a frame
            return None
        length = int.from_bytes(data[pos + 2:pos + 4], 'big')
        segment = data[pos + 4:pos + 2 + length]
        if marker == 0xE1 and segment[:6] == b'Exif\x00\x00':
            orientation = _exif_orientation(segment[6:])
        elif marker in SOF_MARKERS:
            if len(segment) < 6 or segment[0] != 8 or segment[5] not in (1, 3):
                return None
            height = int.from_bytes(segment[1:3], 'big')
            width = int.from_bytes(segment[3:5], 'big')
            if orientation != 1 or not height or not width:
                return None
            return height, width
        pos += 2 + length
    return None


class EncodedImage:
    """A JPEG file's bytes, decoded on demand at a chosen DCT scale.

    ``shape`` is the decoded image's (H, W, 3); ``matrix`` (3 x 3) maps pixel
    coordinates of the file's image to those of the image the pipeline sees (so
    far: flips). ``np.asarray`` gives the full decode with the flips applied, so
    a transform that does not know this class still gets the right pixels.
    """

    def __init__(self, data, path, height, width, loader, matrix=None):
        self.data = data
        self.path = path
        self.shape = (height, width, 3)
        self.loader = loader
        self.matrix = np.eye(3) if matrix is None else matrix

    def flipped(self, direction: str) -> 'EncodedImage':
        """The image as ``mmcv.imflip(img, direction)`` would return it."""
        height, width = self.shape[:2]
        flip = np.eye(3)
        if direction in ('horizontal', 'diagonal'):
            flip[0] = (-1, 0, width - 1)
        if direction in ('vertical', 'diagonal'):
            flip[1] = (0, -1, height - 1)
        return EncodedImage(self.data, self.path, height, width, self.loader,
                            flip @ self.matrix)

    def decode(self, factor: int = 1) -> np.ndarray:
        """The file's image (no flips) decoded at scale 1 / ``factor``: pixel
        (x, y) of the result is centred on ``factor * (x, y) + (factor - 1) / 2``
        of the full image (libjpeg's scaled IDCT: one pixel per factor x factor
        block). Cached by the loader when it keeps decodes."""
        return self.loader.decode(self, factor)

    @staticmethod
    def scale_matrix(factor: int) -> np.ndarray:
        """Pixel coordinates of a 1 / ``factor`` decode -> the full image's."""
        offset = (factor - 1) / 2
        return np.array([[factor, 0, offset], [0, factor, offset], [0, 0, 1]], float)

    def __array__(self, dtype=None, copy=None):
        img = self.decode(1)
        if not np.array_equal(self.matrix, np.eye(3)):
            height, width = self.shape[:2]
            img = cv2.warpAffine(img, self.matrix[:2], (width, height),
                                 flags=cv2.INTER_NEAREST)
        return img if dtype is None else img.astype(dtype)

    def __repr__(self):
        return f'EncodedImage({self.path!r}, shape={self.shape})'


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
        if decode_cache_dir is not None and not self._deferrable():
            raise ValueError(
                f'GenLocLoadImage decode_cache_dir={decode_cache_dir!r} keeps the reduced '
                'decodes of GenLocTopdownAffine: set reduced_decode=True (with the default '
                "color_type='color', to_float32=False, imdecode_backend='cv2'), or drop "
                'decode_cache_dir.')
        self._cache_writes = True  # until a write fails (the disk is full or read-only)
        self.skipped = set()
        # path -> dict(data=bytes, size=(H, W) or None, decodes={factor: array})
        self._cache = OrderedDict()
        self.stats = dict(reads=0, cache_hits=0, decodes=0, disk_hits=0, disk_writes=0)

    def _deferrable(self) -> bool:
        return (self.reduced_decode and not self.to_float32
                and self.color_type == 'color' and self.imdecode_backend == 'cv2')

    def _unreadable(self, path, err):
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

    def _entry(self, path: str, data: bytes) -> dict:
        """The cache entry of this file (the same bytes), a fresh one if none."""
        entry = self._cache.get(path)
        if entry is not None and entry['data'] == data:
            self._cache.move_to_end(path)
            self.stats['cache_hits'] += 1
            return entry
        entry = dict(data=data, size=None, decodes={})
        if self.cache_images:
            self._cache[path] = entry
            self._cache.move_to_end(path)
            while len(self._cache) > self.cache_images:
                self._cache.popitem(last=False)
        return entry

    def _decode(self, data: bytes, factor: int = 1) -> np.ndarray:
        self.stats['decodes'] += 1
        if factor == 1:
            import mmcv
            img = mmcv.imfrombytes(data, flag=self.color_type,
                                   backend=self.imdecode_backend)
        else:
            img = cv2.imdecode(np.frombuffer(data, np.uint8), REDUCED_FLAGS[factor])
        if img is None:
            raise UnreadableImageError('it cannot be decoded as an image (corrupt, or '
                                       'not an image file)')
        return img

    def decode(self, image: EncodedImage, factor: int) -> np.ndarray:
        """``image`` decoded at 1 / ``factor`` (see :meth:`EncodedImage.decode`),
        from the cache when this loader keeps one, else from ``decode_cache_dir``
        (read-only, memory-mapped) when set."""
        entry = self._cache.get(image.path)
        if entry is None or entry['data'] is not image.data:
            entry = dict(data=image.data, decodes={})
        img = entry['decodes'].get(factor)
        if img is None:
            height, width = image.shape[:2]
            expected = (math.ceil(height / factor), math.ceil(width / factor), 3)
            stored_path = self._stored_path(image.data, factor) \
                if self.decode_cache_dir is not None else None
            stored = self._stored_decode(stored_path) if stored_path else None
            if stored is not None and stored.shape == expected and stored.dtype == np.uint8:
                self.stats['disk_hits'] += 1
                img = stored
            else:
                img = self._decode(image.data, factor)
                if img.shape != expected:
                    raise UnreadableImageError(
                        f'decoding {image.path} at 1/{factor} gave {img.shape}, not '
                        f'{expected} as its JPEG header says')
                if stored_path:
                    self._store_decode(stored_path, img)
                img.flags.writeable = False  # shared by the boxes of the image
            entry['decodes'][factor] = img
        return img

    def _stored_path(self, data: bytes, factor: int) -> str:
        """``decode_cache_dir/ab/abcd...-r{factor}.npy``: the SHA-1 of the file's bytes."""
        key = hashlib.sha1(data).hexdigest()
        return osp.join(self.decode_cache_dir, key[:2], f'{key}-r{factor}.npy')

    @staticmethod
    def _stored_decode(path: str) -> Optional[np.ndarray]:
        """The decode kept at ``path``; None if absent or unreadable (then decoded
        and written again)."""
        try:
            return np.load(path, mmap_mode='r')
        except (OSError, ValueError, EOFError):  # EOFError: an empty file
            return None

    def _store_decode(self, path: str, img: np.ndarray) -> None:
        """Write ``img`` to ``path`` in one rename (workers and runs may write the
        same decode at once: the same bytes); if writing fails, warn once and go on
        decoding without the disk cache."""
        if not self._cache_writes:
            return
        data = io.BytesIO()
        np.save(data, img)
        try:
            atomic_write(path, data.getvalue(), 'wb')
            self.stats['disk_writes'] += 1
        except OSError as err:
            self._cache_writes = False
            print_log(f'GenLocLoadImage: cannot write to decode_cache_dir '
                      f'{self.decode_cache_dir!r} ({err}); decoding without it from now on. '
                      'Free disk space or point decode_cache_dir at a writable folder.',
                      logger='current', level=30)

    def transform(self, results: dict) -> Optional[dict]:
        """Load ``results['img_path']`` (or take ``results['img']``) as LoadImage."""
        if 'img' in results:
            return super().transform(results)
        path = results['img_path']
        try:
            data = get(path, backend_args=self.backend_args)
            self.stats['reads'] += 1
            if not data:
                raise UnreadableImageError('the file is empty')
            entry = self._entry(path, data)
            if _truncated(data):
                raise UnreadableImageError('the JPEG data ends early: the file is truncated')
            if self._deferrable():
                if entry['size'] is None:
                    entry['size'] = _jpeg_size(data) or ()
                if entry['size']:
                    height, width = entry['size']
                    results.update(img=EncodedImage(entry['data'], path, height, width, self),
                                   img_shape=(height, width), ori_shape=(height, width))
                    return results
            img = entry['decodes'].get(1)
            if img is None:
                img = self._decode(data)
                if self.cache_images:
                    img.flags.writeable = False  # shared by the boxes of the image
                    entry['decodes'][1] = img
        except (OSError, ValueError) as err:
            return self._unreadable(path, err)
        if self.to_float32:
            img = img.astype(np.float32)
        results.update(img=img, img_shape=img.shape[:2], ori_shape=img.shape[:2])
        return results

    def __repr__(self) -> str:
        return (f'{super().__repr__()[:-1]}, on_unreadable={self.on_unreadable!r}, '
                f'reduced_decode={self.reduced_decode}, '
                f'cache_images={self.cache_images}, '
                f'decode_cache_dir={self.decode_cache_dir!r})')


@TRANSFORMS.register_module()
class GenLocRandomFlip(RandomFlip):
    """MMPose's ``RandomFlip``; an :class:`EncodedImage` records the flip (applied
    in ``GenLocTopdownAffine``'s warp) instead of having its pixels flipped. The
    random draw, boxes, keypoints and metadata are ``RandomFlip``'s own."""

    def transform(self, results: dict) -> dict:
        img = results.get('img')
        if not isinstance(img, EncodedImage):
            return super().transform(results)
        results['img'] = np.zeros((1, 1, 3), np.uint8)  # a stand-in for imflip
        results = super().transform(results)
        results['img'] = img.flipped(results['flip_direction']) if results['flip'] else img
        return results


@TRANSFORMS.register_module()
class GenLocTopdownAffine(TopdownAffine):
    """MMPose's ``TopdownAffine``; an :class:`EncodedImage` is decoded at the
    coarsest JPEG scale 1/r (r = 1, 2, 4, 8, at most ``max_reduction``) at which
    the crop still spans at least ``input_size`` pixels (r <= bbox_scale /
    input_size), and that scale and any recorded flip are composed into the one
    warp. Keypoints, ``bbox_scale`` and the ``input_*`` keys are computed by
    ``TopdownAffine`` itself; only the source of the pixels changes.

    Args:
        input_size (tuple[int, int]): as ``TopdownAffine``.
        use_udp (bool): as ``TopdownAffine``.
        max_reduction (int): the largest r (1, 2, 4 or 8; 1: decode in full,
            flips still folded into the warp). Default 8.
    """

    def __init__(self, input_size, use_udp: bool = False, max_reduction: int = 8):
        super().__init__(input_size=input_size, use_udp=use_udp)
        if max_reduction not in REDUCED_FLAGS:
            raise ValueError('GenLocTopdownAffine max_reduction must be one of '
                             f'{tuple(REDUCED_FLAGS)}, got {max_reduction!r}')
        self.max_reduction = max_reduction

    def reduction(self, scale: np.ndarray) -> int:
        """The largest r <= max_reduction with scale / r >= input_size."""
        width, height = self.input_size
        ratio = min(float(scale[0]) / width, float(scale[1]) / height)
        factor = 1
        while factor * 2 <= self.max_reduction and factor * 2 <= ratio:
            factor *= 2
        return factor

    def transform(self, results: dict) -> Optional[dict]:
        img = results['img']
        if not isinstance(img, EncodedImage):
            return super().transform(results)
        results['img'] = []  # TopdownAffine warps each image of an empty list
        results = super().transform(results)
        width, height = self.input_size
        center, scale = results['input_center'], results['input_scale']
        rot = results['bbox_rotation'][0] if 'bbox_rotation' in results else 0.
        if self.use_udp:
            warp = get_udp_warp_matrix(center, scale, rot, output_size=(width, height))
        else:
            warp = get_warp_matrix(center, scale, rot, output_size=(width, height))
        factor = self.reduction(scale)
        try:
            src = img.decode(factor)
        except (OSError, ValueError) as err:
            results['img'] = img
            return img.loader._unreadable(img.path, err)
        matrix = np.vstack([warp, (0, 0, 1)]) @ img.matrix @ EncodedImage.scale_matrix(factor)
        results['img'] = cv2.warpAffine(src, matrix[:2], (int(width), int(height)),
                                        flags=cv2.INTER_LINEAR)
        results['reduced_decode_factor'] = factor
        return results

    def __repr__(self) -> str:
        return f'{super().__repr__()[:-1]}, max_reduction={self.max_reduction})'


FAST_TO_MMPOSE = dict(GenLocRandomFlip='RandomFlip', GenLocTopdownAffine='TopdownAffine')


def mmpose_pipeline(pipeline: list) -> list:
    """A copy of ``pipeline`` as MMPose's own transforms run it: no deferred or
    reduced decode, no image cache (``GenLocLoadImage``'s checks stay),
    ``RandomFlip`` and ``TopdownAffine`` for their GenLoc subclasses (which
    behave exactly as those when the loader hands them arrays). Without
    ``decode_cache_dir`` either."""
    import copy
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
