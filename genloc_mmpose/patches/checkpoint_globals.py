"""Let MMEngine checkpoints load with ``torch.load(weights_only=True)``.

mmengine 0.10 calls ``torch.load`` without ``weights_only``; torch >= 2.6 then loads
with ``weights_only=True`` and refuses the checkpoints mmengine writes: their meta
holds numpy arrays and scalars (dataset meta, message hub; an empty array, e.g. the
link colours of a keypoint set without skeleton, pickles its data as ``bytes()``) and
mmengine's
``HistoryBuffer``, whose class-level statistics table pickles as
``getattr(HistoryBuffer, 'min')``. Instead of turning the safe loader off, allow
exactly those globals; ``getattr`` is allowed only for that table. (torch < 2.6
loads full pickles by default, so mmengine's checkpoints load there as they are.)
"""
import pickle

import numpy as np
import torch
from mmengine.logging.history_buffer import HistoryBuffer
from mmengine.utils import digit_version

FIXED_UP_TO = '0.10.7'  # the newest mmengine release; checked by tests/test_patches.py


def _numpy_globals() -> list:
    """Array/scalar reconstructors and dtype classes, under the module names that
    numpy 2.x and 1.x pickles use."""
    core = np._core if hasattr(np, '_core') else np.core  # numpy 2.x / 1.x
    reconstruct = core.multiarray._reconstruct
    scalar = core.multiarray.scalar
    dtype_classes = {type(np.dtype(code)) for code in np.typecodes['All']}
    return [
        reconstruct, (reconstruct, 'numpy.core.multiarray._reconstruct'),
        scalar, (scalar, 'numpy.core.multiarray.scalar'),
        np.ndarray, np.dtype, *sorted(dtype_classes, key=lambda cls: cls.__name__)
    ]


def _history_buffer_getattr(obj, name: str):
    """``getattr`` restricted to ``HistoryBuffer``'s statistics methods."""
    if obj is HistoryBuffer and name in ('min', 'max', 'current', 'mean'):
        return getattr(obj, name)
    raise pickle.UnpicklingError(
        f'Refusing getattr({obj!r}, {name!r}) in a weights_only checkpoint load.')


def applies() -> bool:
    """torch >= 2.6 (weights_only by default) under mmengine <= 0.10.7 (which does not
    pass ``weights_only``)."""
    import mmengine
    return (digit_version(torch.__version__) >= digit_version('2.6.0')
            and digit_version(mmengine.__version__) <= digit_version(FIXED_UP_TO))


def apply() -> None:
    if not applies():
        # torch < 2.6: weights_only is off by default; add_safe_globals (torch 2.4,
        # 2.5) takes no (obj, name) pairs
        return
    torch.serialization.add_safe_globals([
        *_numpy_globals(), bytes, HistoryBuffer,
        (_history_buffer_getattr, 'builtins.getattr')
    ])
