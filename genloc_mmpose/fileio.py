"""File writing shared by the package: :func:`atomic_write`."""
import os
import os.path as osp
from typing import Callable, IO, Union


def atomic_write(filepath, data: Union[bytes, str, Callable[[IO], None]], mode: str) -> None:
    """Write ``data`` (bytes or str for ``mode`` ``'wb'`` / ``'w'``, or a function
    writing to the open file) to a temporary file beside ``filepath``, sync, rename:
    never a half-written file, and processes writing the same file at once do not
    collide (checkpoints, results, annotation files, the mini-SD trainer's state)."""
    filepath = str(filepath)
    os.makedirs(osp.dirname(osp.abspath(filepath)), exist_ok=True)
    tmp = f'{filepath}.tmp{os.getpid()}'
    try:
        with open(tmp, mode) as f:
            if callable(data):
                data(f)
            else:
                f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, filepath)
    finally:
        if osp.exists(tmp):
            os.remove(tmp)
