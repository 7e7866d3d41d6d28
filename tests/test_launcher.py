"""tools/train.py and tools/test.py end multi-process runs cleanly."""
import os

import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel

from genloc_mmpose.launcher import destroy_process_group


def _gloo_threads():
    names = []
    for tid in os.listdir('/proc/self/task'):
        try:
            with open(f'/proc/self/task/{tid}/comm') as f:
                names.append(f.read().strip())
        except OSError:  # the thread ended meanwhile
            pass
    return [n for n in names if 'gloo' in n]


def test_destroy_process_group_stops_gloo_threads_held_by_a_cycle(tmp_path):
    """A DDP model in a reference cycle (as mmengine's runner keeps it) holds the
    gloo group; its threads must be gone before the interpreter exits."""
    assert not _gloo_threads()
    dist.init_process_group('gloo', init_method=f'file://{tmp_path}/store', rank=0,
                            world_size=1)
    cycle = dict(model=DistributedDataParallel(torch.nn.Linear(2, 2)))
    cycle['self'] = cycle
    del cycle
    assert _gloo_threads()  # gloo's run loops are alive
    destroy_process_group()
    assert not dist.is_initialized()
    assert not _gloo_threads()
    destroy_process_group()  # no group: nothing to do
