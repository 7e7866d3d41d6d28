"""Image loading that names the bad file and never decodes a truncated image."""
from typing import Optional

import numpy as np
from mmengine.fileio import get
from mmengine.logging import print_log
from mmpose.datasets.transforms import LoadImage
from mmpose.registry import TRANSFORMS

ON_UNREADABLE = ('raise', 'skip')


class UnreadableImageError(OSError):
    """An image file that cannot be read or decoded completely."""


def _truncated(data: bytes) -> bool:
    """Whether ``data`` is a JPEG without its end-of-image marker (a partial
    download or copy). OpenCV decodes such files without an error, filling the
    missing rows with grey. The marker may be followed by a few padding bytes; it
    cannot occur inside the compressed data (0xFF is stuffed there)."""
    return data[:2] == b'\xff\xd8' and b'\xff\xd9' not in data[-1024:]


@TRANSFORMS.register_module()
class GenLocLoadImage(LoadImage):
    """MMPose's ``LoadImage`` with unreadable images handled explicitly.

    A missing, empty, corrupt or truncated image file raises
    :class:`UnreadableImageError` naming the file, what is wrong and the fix;
    ``on_unreadable='skip'`` instead logs a warning with the running count of
    skipped files and returns ``None``, which MMEngine's datasets answer in
    training by drawing another sample (in test mode MMEngine refuses ``None``:
    every test image must be readable).

    Args:
        on_unreadable (str): ``'raise'`` (default) or ``'skip'``.
        **kwargs: ``LoadImage``'s arguments.
    """

    def __init__(self, on_unreadable: str = 'raise', **kwargs):
        super().__init__(**kwargs)
        if on_unreadable not in ON_UNREADABLE:
            raise ValueError(f'GenLocLoadImage on_unreadable must be one of {ON_UNREADABLE},'
                             f' got {on_unreadable!r}')
        self.on_unreadable = on_unreadable
        self.skipped = set()

    def transform(self, results: dict) -> Optional[dict]:
        """Load ``results['img_path']`` (or take ``results['img']``) as LoadImage."""
        if 'img' in results:
            return super().transform(results)
        path = results['img_path']
        try:
            data = get(path, backend_args=self.backend_args)
            if not data:
                raise UnreadableImageError('the file is empty')
            if _truncated(data):
                raise UnreadableImageError('the JPEG data ends early: the file is truncated')
            import mmcv
            img = mmcv.imfrombytes(data, flag=self.color_type, backend=self.imdecode_backend)
            if img is None:
                raise UnreadableImageError('it cannot be decoded as an image (corrupt, or '
                                           'not an image file)')
        except (OSError, ValueError) as err:
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
        if self.to_float32:
            img = img.astype(np.float32)
        results.update(img=img, img_shape=img.shape[:2], ori_shape=img.shape[:2])
        return results
