"""tools/train.py and tools/test.py end multi-process runs cleanly."""
import os
import os.path as osp

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


def test_set_device_is_a_no_op_only_while_a_tool_runs(monkeypatch):
    """Without a GPU, ``torch.cuda.set_device`` does nothing while mmpose's tool runs
    (mmengine's launcher calls it for gloo too) and is torch's own again after it."""
    import torch

    from genloc_mmpose import launcher
    original = torch.cuda.set_device
    seen = []

    def tool(path, run_name):
        seen.append((osp.basename(path), run_name, torch.cuda.set_device))
        torch.cuda.set_device(0)  # a no-op here (no GPU on this machine)
    monkeypatch.setattr(launcher.runpy, 'run_path', tool)
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: False)
    launcher.run_mmpose_tool('train.py')
    assert seen[0][:2] == ('train.py', '__main__') and seen[0][2] is not original
    assert torch.cuda.set_device is original
