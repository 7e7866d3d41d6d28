"""Upstream still has the bug each module of genloc_mmpose/patches/ fixes, in the
installed versions (each module's guard says it applies). A test here that fails
after an upgrade means upstream fixed it: delete the module it names (and its line in
``patches.PATCHES``). What the fixes do is tested where they matter
(test_e2e, test_reliability, test_install)."""
import os
import subprocess
import sys
from types import SimpleNamespace
from unittest import mock

import numpy as np
import pytest
from conftest import REPO

import genloc_mmpose  # noqa: F401  (applies the patches)
from genloc_mmpose import patches
from genloc_mmpose.patches import (checkpoint_globals, config_package, inferencer_bboxes,
                                   mmcv_cuda_ops)


def upstream_python(code: str) -> str:
    """``code`` in a fresh interpreter that never imports genloc_mmpose: stdout."""
    proc = subprocess.run([sys.executable, '-W', 'ignore', '-c', code], cwd='/',
                          capture_output=True, text=True, timeout=300,
                          env=dict(os.environ, PYTHONPATH=''))
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout


def test_every_patch_applies_here():
    """The installed stack is the one the guards name (a guard that says "not
    needed" here would leave its module untested)."""
    assert patches.PATCHES == (checkpoint_globals, inferencer_bboxes, config_package,
                               mmcv_cuda_ops)
    assert all(p.applies() for p in patches.PATCHES)


def test_upstream_inferencer_still_drops_given_bboxes():
    """``inferencer_bboxes``: mmpose's own ``preprocess_single`` runs on the whole
    image although a box is given."""
    from mmpose.apis.inferencers.pose2d_inferencer import Pose2DInferencer
    patched = Pose2DInferencer.preprocess_single
    assert patched.__genloc_fix__
    fake = SimpleNamespace(cfg=SimpleNamespace(data_mode='topdown'), detector=None,
                           model=SimpleNamespace(dataset_meta={}), pipeline=lambda x: x)
    image = np.zeros((40, 60, 3), np.uint8)
    given = [[10, 5, 30, 25]]
    upstream = patched.__wrapped__(fake, image, 0, bboxes=given)
    assert [d['bbox'].tolist() for d in upstream] == [[[0, 0, 60, 40]]], \
        'mmpose honours bboxes now: delete genloc_mmpose/patches/inferencer_bboxes.py'
    fixed = patched(fake, image, 0, bboxes=given)
    assert [d['bbox'].tolist() for d in fixed] == [[given[0]]]


def test_upstream_checkpoint_hook_still_removes_before_saving():
    """Not a patch: ``genloc_mmpose/engine/checkpoint_hook.py`` (AtomicCheckpointHook,
    the GenLoc configs' checkpoint hook) exists because mmengine's ``CheckpointHook``
    removes the outdated checkpoint before it saves the new one and writes
    ``last_checkpoint`` in place."""
    import inspect

    from mmengine.hooks import CheckpointHook
    source = inspect.getsource(CheckpointHook._save_checkpoint_with_step)
    fixed = source.index('runner.save_checkpoint(') < source.index('.remove(') and \
        "with open(save_file, 'w')" not in source
    assert not fixed, ('mmengine saves checkpoints safely now: delete '
                       'genloc_mmpose/engine/checkpoint_hook.py and its default_hooks line')


def test_upstream_config_does_not_know_the_package():
    """``config_package``: without the fix mmengine neither knows ``genloc_mmpose::``
    nor, for this editable install, finds its files."""
    out = upstream_python(
        'from mmengine.config import config, utils\n'
        'print("genloc_mmpose" in utils.MODULE2PACKAGE)\n'
        'print(config.get_installed_path("genloc_mmpose"))\n').split('\n')
    assert out[0] == 'False', \
        'mmengine knows genloc_mmpose now: delete genloc_mmpose/patches/config_package.py'
    from mmengine.config import config
    assert config.get_installed_path('genloc_mmpose') == config_package.PACKAGE_DIR
    if os.path.samefile(config_package.PACKAGE_DIR, os.path.join(REPO, 'genloc_mmpose')):
        assert out[1] != config_package.PACKAGE_DIR  # the editable install's case


def test_upstream_checkpoint_refused_by_torchs_safe_loader(tmp_path):
    """``checkpoint_globals``: mmengine's own loader, without the allow-list, cannot
    read a checkpoint mmengine wrote (numpy meta, HistoryBuffer)."""
    path = tmp_path / 'meta.pth'
    out = upstream_python(
        'import numpy as np\n'
        'from mmengine.logging.history_buffer import HistoryBuffer\n'
        'from mmengine.runner import save_checkpoint\n'
        'from mmengine.runner.checkpoint import _load_checkpoint\n'
        f'save_checkpoint(dict(meta=dict(sigmas=np.ones(3)), buffer=HistoryBuffer(), '
        f'state_dict={{}}), {str(path)!r})\n'
        'try:\n'
        f'    _load_checkpoint({str(path)!r})\n'
        '    print("loaded")\n'
        'except Exception as err:\n'
        '    print(type(err).__name__)\n')
    assert out.strip().splitlines()[-1] == 'UnpicklingError', \
        'mmengine loads its checkpoints now: delete genloc_mmpose/patches/checkpoint_globals.py'
    from mmengine.runner.checkpoint import _load_checkpoint
    assert _load_checkpoint(str(path))['meta']['sigmas'].tolist() == [1, 1, 1]


def test_mmcv_ops_built_without_cuda_are_wrapped():
    """``mmcv_cuda_ops``: its guard is the build (no upstream release to wait for):
    mmcv's ops here have no CUDA, and the NMS / RoIAlign modules carry the wrapper."""
    import importlib

    from mmcv.ops import get_compiling_cuda_version
    assert get_compiling_cuda_version() == 'not available'
    for module in map(importlib.import_module, ('mmcv.ops.nms', 'mmcv.ops.roi_align')):
        assert isinstance(module.ext_module, mmcv_cuda_ops._CudaOpsFromTorchvision)


@pytest.mark.parametrize('patch', patches.PATCHES, ids=lambda p: p.__name__.split('.')[-1])
def test_each_patch_documents_its_bug_and_guard(patch):
    doc = patch.__doc__ or ''
    assert len(doc.split()) > 30 and callable(patch.applies) and callable(patch.apply)
    assert hasattr(patch, 'FIXED_UP_TO') or 'build' in doc
