"""Run one of MMPose's own tools (``mmpose/.mim/tools/*.py``) with GenLoc registered:
``genloc-train`` / ``genloc-test`` (console scripts), ``python -m genloc_mmpose.launcher
train.py CONFIG ...``, and this repository's ``tools/train.py`` / ``tools/test.py``."""
import gc
import os.path as osp
import runpy
import sys

import mmpose
import torch
import torch.distributed as dist


def destroy_process_group() -> None:
    """Destroy the default process group, if any, and stop its threads.

    mmengine never destroys it. A gloo group left alive at exit aborts a finished
    run (SIGABRT, "terminate called without an active exception"), and
    ``dist.destroy_process_group()`` alone does not stop gloo's threads while the
    runner's DDP model, kept by reference cycles, still holds the group: collect
    the cycles first.
    """
    if dist.is_available() and dist.is_initialized():
        gc.collect()
        dist.destroy_process_group()


def run_mmpose_tool(name: str) -> None:
    """Run ``mmpose/.mim/tools/<name>`` as ``__main__`` (it parses ``sys.argv``).

    For multi-process runs (``--launcher pytorch``): without a GPU,
    ``torch.cuda.set_device`` (which mmengine 0.10's launcher calls even for gloo)
    is a no-op for the tool's run (CPU DDP also needs ``--cfg-options
    model_wrapper_cfg.device_ids=None``), restored after it; the process group is
    destroyed before the interpreter exits.
    """
    set_device = torch.cuda.set_device
    if not torch.cuda.is_available():
        torch.cuda.set_device = lambda device: None
    try:
        runpy.run_path(osp.join(osp.dirname(mmpose.__file__), '.mim', 'tools', name),
                       run_name='__main__')
    finally:
        torch.cuda.set_device = set_device
        destroy_process_group()


def train() -> None:
    """``genloc-train CONFIG [--work-dir DIR] [--resume] [--cfg-options ...]``."""
    run_mmpose_tool('train.py')


def test() -> None:
    """``genloc-test CONFIG CHECKPOINT [--work-dir DIR] [--cfg-options ...]``."""
    run_mmpose_tool('test.py')


if __name__ == '__main__':  # python -m genloc_mmpose.launcher train.py|test.py ARGS
    run_mmpose_tool(sys.argv.pop(1))
