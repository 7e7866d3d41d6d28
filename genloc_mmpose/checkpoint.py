"""Let MMEngine checkpoints load with ``torch.load(weights_only=True)``.

mmengine 0.10 calls ``torch.load`` without ``weights_only``; torch >= 2.6 then loads
with ``weights_only=True`` and refuses checkpoints that hold numpy arrays (dataset
meta, message hub) or mmengine's ``HistoryBuffer``. Instead of turning the safe
loader off, allow-list exactly the classes that MMEngine's checkpoints contain.
"""
import numpy as np
import torch


def _numpy_globals():
    """numpy's array/scalar reconstructors and dtype classes, under the module
    names that numpy 1.x and 2.x pickles use."""
    reconstruct = np._core.multiarray._reconstruct
    scalar = np._core.multiarray.scalar
    dtype_classes = {type(np.dtype(code)) for code in np.typecodes['All'] if code not in 'Mm'}
    dtype_classes |= {type(np.dtype('M8[s]')), type(np.dtype('m8[s]'))}
    return [
        reconstruct, (reconstruct, 'numpy.core.multiarray._reconstruct'),
        scalar, (scalar, 'numpy.core.multiarray.scalar'),
        np.ndarray, np.dtype, *sorted(dtype_classes, key=lambda c: c.__name__)
    ]


def allow_mmengine_checkpoint_globals() -> None:
    from mmengine.logging.history_buffer import HistoryBuffer
    torch.serialization.add_safe_globals([*_numpy_globals(), HistoryBuffer])
