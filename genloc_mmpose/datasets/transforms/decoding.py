"""Decoding image files' bytes: :class:`EncodedImage` (a JPEG handed on undecoded)
and :class:`DecodeCache` (the decodes a loader keeps, in memory and on disk)."""
import hashlib
import io
import math
import os.path as osp
from collections import OrderedDict
from typing import Optional

import cv2
import numpy as np
from mmengine.logging import print_log

from ...fileio import atomic_write

# JPEG DCT scaling that OpenCV (libjpeg-turbo) offers, as 1/r
REDUCED_FLAGS = {1: cv2.IMREAD_COLOR, 2: cv2.IMREAD_REDUCED_COLOR_2,
                 4: cv2.IMREAD_REDUCED_COLOR_4, 8: cv2.IMREAD_REDUCED_COLOR_8}


class UnreadableImageError(OSError):
    """An image file that cannot be read or decoded completely."""


class EncodedImage:
    """A JPEG file's bytes, decoded on demand at a chosen DCT scale.

    ``shape`` is the decoded image's (H, W, 3); ``matrix`` (3 x 3) maps pixel
    coordinates of the file's image to those of the image the pipeline sees (so
    far: flips). ``np.asarray`` gives the full decode with the flips applied, so
    a transform that does not know this class still gets the right pixels.
    ``loader`` is the :class:`~.loading.GenLocLoadImage` that read the file: its
    :meth:`~.loading.GenLocLoadImage.decode` decodes (from its caches), its
    :meth:`~.loading.GenLocLoadImage.unreadable` answers a decode that fails.
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


class DecodeCache:
    """The decodes of image files' bytes that a loader keeps, so that an image is
    decoded once: those of the last ``images`` files in memory (every scale used,
    reused while a file's bytes are the same), and with ``folder`` every decode of
    an :class:`EncodedImage` on disk. A kept decode is read-only (shared by the
    boxes of an image).

    Args:
        images (int): files whose decodes are kept in memory (0: none).
        folder (str, optional): where each decode of an :class:`EncodedImage` is
            kept as ``ab/abcd...-r{factor}.npy`` (the SHA-1 of the file's bytes, the
            scale) and read back memory-mapped; None: none.
        color_type (str): ``mmcv.imfrombytes``' flag for full decodes.
        backend (str): ``mmcv.imfrombytes``' backend for full decodes.
    """

    def __init__(self, images: int = 0, folder: Optional[str] = None,
                 color_type: str = 'color', backend: str = 'cv2'):
        self.images = images
        self.folder = folder
        self.color_type = color_type
        self.backend = backend
        self._writes = True  # until a write fails (the disk is full or read-only)
        # path -> dict(data=bytes, size=(H, W), () or None, decodes={factor: array})
        self._recent = OrderedDict()
        self.stats = dict(cache_hits=0, decodes=0, disk_hits=0, disk_writes=0)

    def record(self, path: str, data: bytes) -> dict:
        """The record of this file (the same bytes) if kept, else a new one, kept
        when ``images`` > 0: dict(data, size (the loader's: None until known),
        decodes)."""
        record = self._recent.get(path)
        if record is not None and record['data'] == data:
            self._recent.move_to_end(path)
            self.stats['cache_hits'] += 1
            return record
        record = dict(data=data, size=None, decodes={})
        if self.images:
            self._recent[path] = record
            self._recent.move_to_end(path)
            while len(self._recent) > self.images:
                self._recent.popitem(last=False)
        return record

    def full(self, record: dict) -> np.ndarray:
        """The image of :meth:`record`'s file decoded in full (as ``LoadImage``)."""
        img = record['decodes'].get(1)
        if img is None:
            img = self._decode(record['data'])
            if self.images:
                img.flags.writeable = False
                record['decodes'][1] = img
        return img

    def scaled(self, image: EncodedImage, factor: int) -> np.ndarray:
        """``image`` decoded at 1 / ``factor`` (see :meth:`EncodedImage.decode`):
        kept in memory, else read from ``folder``, else decoded (and written
        there)."""
        record = self._recent.get(image.path)
        if record is None or record['data'] is not image.data:
            record = dict(data=image.data, decodes={})
        img = record['decodes'].get(factor)
        if img is None:
            height, width = image.shape[:2]
            expected = (math.ceil(height / factor), math.ceil(width / factor), 3)
            path = self._stored_path(image.data, factor) if self.folder is not None else None
            stored = self._load(path) if path else None
            if stored is not None and stored.shape == expected and stored.dtype == np.uint8:
                self.stats['disk_hits'] += 1
                img = stored
            else:
                img = self._decode(image.data, factor)
                if img.shape != expected:
                    raise UnreadableImageError(
                        f'decoding {image.path} at 1/{factor} gave {img.shape}, not '
                        f'{expected} as its JPEG header says')
                if path:
                    self._store(path, img)
                img.flags.writeable = False  # shared by the boxes of the image
            record['decodes'][factor] = img
        return img

    def _decode(self, data: bytes, factor: int = 1) -> np.ndarray:
        self.stats['decodes'] += 1
        if factor == 1:
            import mmcv
            img = mmcv.imfrombytes(data, flag=self.color_type, backend=self.backend)
        else:
            img = cv2.imdecode(np.frombuffer(data, np.uint8), REDUCED_FLAGS[factor])
        if img is None:
            raise UnreadableImageError('it cannot be decoded as an image (corrupt, or '
                                       'not an image file)')
        return img

    def _stored_path(self, data: bytes, factor: int) -> str:
        """``folder/ab/abcd...-r{factor}.npy``: the SHA-1 of the file's bytes."""
        key = hashlib.sha1(data).hexdigest()
        return osp.join(self.folder, key[:2], f'{key}-r{factor}.npy')

    @staticmethod
    def _load(path: str) -> Optional[np.ndarray]:
        """The decode kept at ``path``; None if absent or unreadable (then decoded
        and written again)."""
        try:
            return np.load(path, mmap_mode='r')
        except (OSError, ValueError, EOFError):  # EOFError: an empty file
            return None

    def _store(self, path: str, img: np.ndarray) -> None:
        """Write ``img`` to ``path`` in one rename (workers and runs may write the
        same decode at once: the same bytes); if writing fails, warn once and go on
        decoding without the disk cache."""
        if not self._writes:
            return
        data = io.BytesIO()
        np.save(data, img)
        try:
            atomic_write(path, data.getvalue(), 'wb')
            self.stats['disk_writes'] += 1
        except OSError as err:
            self._writes = False
            print_log(f'GenLocLoadImage: cannot write to decode_cache_dir {self.folder!r} '
                      f'({err}); decoding without it from now on. Free disk space or point '
                      'decode_cache_dir at a writable folder.', logger='current', level=30)
