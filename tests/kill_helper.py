"""Run tools/train.py and freeze it in the middle of writing one file, so that the
test can SIGKILL it there (tests/test_reliability.py).

Usage: python tests/kill_helper.py PREFIX[:N] MARKER tools/train.py ARGS...

The N-th (default first) file opened for writing whose name starts with PREFIX
(e.g. ``iter_12.pth`` or ``last_checkpoint``, whatever the writer's temporary
naming) gets half of its first write; then MARKER is created and the process
sleeps until killed. The hook
is on ``open``, below any checkpoint-writing code, so the test does not depend on
how the files are written.
"""
import builtins
import os.path as osp
import runpy
import sys
import time

PREFIX, _, NTH = sys.argv[1].partition(':')
MARKER = sys.argv[2]
_open = builtins.open
_seen = []


class _HalfWriter:

    def __init__(self, f):
        self._f = f

    def write(self, data):
        self._f.write(data[:len(data) // 2])
        self._f.flush()
        with _open(MARKER, 'w'):
            pass
        time.sleep(600)

    def __getattr__(self, name):
        return getattr(self._f, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return self._f.__exit__(*exc)


def _open_and_freeze(file, mode='r', *args, **kwargs):
    f = _open(file, mode, *args, **kwargs)
    if isinstance(file, (str, bytes)) and 'w' in mode and \
            osp.basename(str(file)).startswith(PREFIX) and not osp.exists(MARKER):
        _seen.append(file)
        if len(_seen) == int(NTH or 1):
            return _HalfWriter(f)
    return f


builtins.open = _open_and_freeze
sys.argv = sys.argv[3:]
runpy.run_path(sys.argv[0], run_name='__main__')
