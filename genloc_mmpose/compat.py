"""Fixes of upstream bugs, set up on ``import genloc_mmpose`` (and only here).

1. mmpose <= 1.3.2 ``Pose2DInferencer.preprocess_single`` resets its ``bboxes``
   argument, so ``MMPoseInferencer(...)(img, bboxes=...)`` silently runs on the
   whole image. With the fix, given boxes are used whenever no detector is set
   (``det_model='whole_image'``); every other case runs mmpose's own code. Given
   boxes are checked: an empty or off-image box is an error, not 17 confident
   keypoints. Applied when mmpose's inferencer module is imported
   (:func:`when_imported`), not by ``import genloc_mmpose`` itself.
2. mmengine <= 0.10.7 writes checkpoints in place (``LocalBackend.put``), so a kill
   during a save leaves a truncated file; and ``CheckpointHook`` deletes the oldest
   kept checkpoint *before* saving the new one and rewrites ``last_checkpoint`` in
   place, so a kill in between leaves ``last_checkpoint`` naming a deleted or
   half-written file (with ``max_keep_ckpts=1``, the only good one is gone). With
   the fix, files are written to a temporary name, synced and renamed (atomic on
   POSIX), ``last_checkpoint`` likewise, and outdated checkpoints are removed only
   after the new one and ``last_checkpoint`` are in place: ``--resume`` always
   finds a complete checkpoint.
3. mmengine <= 0.10.7 resolves ``pkg::`` base configs only for the packages in its
   own table (``MODULE2PACKAGE``), and finds a package's files where its
   distribution is installed, which for an editable (PEP 660) install is not where
   the package lives. With the fix, ``_base_ = ['genloc_mmpose::genloc/...']`` names
   ``genloc_mmpose/.mim/configs/genloc/...`` of the imported package.
4. mmcv's ops built without CUDA (as ``make env`` builds them) fail on CUDA tensors,
   and mmdet's detectors call mmcv's NMS (and RoIAlign in two-stage detectors) on
   the GPU. With the fix, those two run on CUDA tensors through torchvision's CUDA
   kernels (the same definitions: IoU > threshold suppressed, offset 0; average
   RoIAlign with mmcv's sampling and alignment), for inference; everything else,
   and every CPU call, is mmcv's own.
"""
import functools
import importlib
import importlib.abc
import importlib.util
import os
import os.path as osp
import sys

import numpy as np
from mmengine.utils import digit_version

from .fileio import atomic_write


def _preprocess_single(original):

    @functools.wraps(original)
    def preprocess_single(self, input, index, bbox_thr=0.3, nms_thr=0.3, bboxes=()):
        boxes = np.asarray(bboxes, dtype=np.float32)
        if self.cfg.data_mode != 'topdown' or self.detector is not None or boxes.size == 0:
            return original(self, input, index, bbox_thr=bbox_thr, nms_thr=nms_thr)
        boxes = boxes.reshape(-1, boxes.shape[-1])
        if boxes.shape[-1] not in (4, 5):
            raise ValueError(f'bboxes must be [x1, y1, x2, y2] or [x1, y1, x2, y2, score] '
                             f'per box in image pixels, got shape {boxes.shape}')
        if isinstance(input, str):
            data_info = dict(img_path=input)
            name = input
        else:
            data_info = dict(img=input, img_path=f'{index}.jpg'.rjust(10, '0'))
            name = f'image {index}'
        _check_boxes(boxes, name, None if isinstance(input, str) else input.shape[:2])
        data_info.update(self.model.dataset_meta)
        data_infos = []
        for box in boxes:
            inst = dict(data_info, bbox=box[None, :4],
                        bbox_score=box[4:5] if len(box) == 5 else np.ones(1, np.float32))
            data_infos.append(self.pipeline(inst))
        return data_infos

    preprocess_single.__genloc_fix__ = True
    return preprocess_single


def _check_boxes(boxes: np.ndarray, name: str, shape=None) -> None:
    """Given boxes (N, 4+) x1, y1, x2, y2 must be finite, at least one pixel wide
    and high, and (when the image size is known) overlap the image."""
    for box in boxes:
        x1, y1, x2, y2 = box[:4]
        problem = None
        if not np.isfinite(box[:4]).all():
            problem = 'has non-finite coordinates'
        elif x2 - x1 < 1 or y2 - y1 < 1:
            problem = f'is {x2 - x1:g} x {y2 - y1:g} px (x2 <= x1 or y2 <= y1?)'
        elif shape is not None and (x2 <= 0 or y2 <= 0 or x1 >= shape[1] or y1 >= shape[0]):
            problem = f'lies outside the {shape[1]} x {shape[0]} image'
        if problem:
            raise ValueError(f'bboxes for {name}: box {box.tolist()} {problem}. Boxes are '
                             '[x1, y1, x2, y2] in image pixels, with x2 > x1 and y2 > y1.')


def when_imported(name: str, patch) -> None:
    """``patch(module)`` on module ``name``: now if it is imported, else as soon as
    its code has run (a one-shot finder on ``sys.meta_path`` wraps its loader), so
    ``import genloc_mmpose`` does not import what it patches (mmpose's inferencers
    import mmdet's: 0.4 s)."""
    if name in sys.modules:
        patch(sys.modules[name])
        return

    class Finder(importlib.abc.MetaPathFinder):

        def find_spec(self, fullname, path, target=None):
            if fullname != name:
                return None
            sys.meta_path.remove(self)
            spec = importlib.util.find_spec(fullname)
            exec_module = spec.loader.exec_module

            def exec_and_patch(module):
                exec_module(module)
                patch(module)

            spec.loader.exec_module = exec_and_patch
            return spec

    sys.meta_path.insert(0, Finder())


def fix_pose2d_inferencer_bboxes():
    """Make ``Pose2DInferencer`` honour given ``bboxes`` (mmpose <= 1.3.2), when
    mmpose's inferencer is imported."""
    import mmpose
    if digit_version(mmpose.__version__) > digit_version('1.3.2'):
        return

    def patch(module):
        inferencer = module.Pose2DInferencer
        if not getattr(inferencer.preprocess_single, '__genloc_fix__', False):
            inferencer.preprocess_single = _preprocess_single(inferencer.preprocess_single)

    when_imported('mmpose.apis.inferencers.pose2d_inferencer', patch)


def _put(self, obj: bytes, filepath) -> None:
    """``LocalBackend.put``, atomically."""
    atomic_write(filepath, obj, 'wb')


def _put_text(self, obj: str, filepath, encoding: str = 'utf-8') -> None:
    """``LocalBackend.put_text``, atomically."""
    atomic_write(filepath, obj.encode(encoding), 'wb')


def _save_checkpoint_with_step(self, runner, step, meta):
    """mmengine 0.10.7's ``CheckpointHook._save_checkpoint_with_step`` with the
    order fixed: save, then ``last_checkpoint`` (atomically), then remove the
    outdated checkpoint."""
    from mmengine.dist import is_main_process
    outdated = None
    if self.max_keep_ckpts > 0 and not (self.keep_ckpt_ids
                                        and self.keep_ckpt_ids[-1] == step):
        if len(self.keep_ckpt_ids) == self.max_keep_ckpts:
            outdated = self.keep_ckpt_ids.popleft()
        self.keep_ckpt_ids.append(step)
        runner.message_hub.update_info('keep_ckpt_ids', list(self.keep_ckpt_ids))
    ckpt_filename = self.filename_tmpl.format(step)
    self.last_ckpt = self.file_backend.join_path(self.out_dir, ckpt_filename)
    runner.message_hub.update_info('last_ckpt', self.last_ckpt)
    runner.save_checkpoint(
        self.out_dir, ckpt_filename, self.file_client_args,
        save_optimizer=self.save_optimizer,
        save_param_scheduler=self.save_param_scheduler, meta=meta, by_epoch=self.by_epoch,
        backend_args=self.backend_args, **self.args)
    if not is_main_process():
        return
    atomic_write(osp.join(runner.work_dir, 'last_checkpoint'), self.last_ckpt.encode(), 'wb')
    if outdated is not None:
        path = self.file_backend.join_path(self.out_dir, self.filename_tmpl.format(outdated))
        if self.file_backend.isfile(path):
            self.file_backend.remove(path)
        elif self.file_backend.isdir(path):  # deepspeed saves directories
            self.file_backend.rmtree(path)


def fix_atomic_checkpoints():
    """Atomic local writes and a safe save order in ``CheckpointHook`` (mmengine
    <= 0.10.7; the module docstring, item 2)."""
    import mmengine
    from mmengine.fileio.backends import LocalBackend
    from mmengine.hooks import CheckpointHook
    if digit_version(mmengine.__version__) > digit_version('0.10.7'):
        return
    LocalBackend.put = _put
    LocalBackend.put_text = _put_text
    CheckpointHook._save_checkpoint_with_step = _save_checkpoint_with_step


def register_config_package():
    """``genloc_mmpose::`` base configs in mmengine (the module docstring, item 3)."""
    from mmengine.config import config, utils
    utils.MODULE2PACKAGE.setdefault('genloc_mmpose', 'genloc_mmpose')
    original = config.get_installed_path
    if getattr(original, '__genloc_fix__', False):
        return

    @functools.wraps(original)
    def get_installed_path(package: str) -> str:
        if package == 'genloc_mmpose':
            return osp.dirname(osp.abspath(__file__))
        return original(package)

    get_installed_path.__genloc_fix__ = True
    config.get_installed_path = get_installed_path


def _on_cuda(tensor) -> bool:
    return tensor.is_cuda


class _CudaOpsFromTorchvision:
    """mmcv's compiled ops module (``mmcv._ext``, built without CUDA) with ``nms`` and
    ``roi_align_forward`` of CUDA tensors run by torchvision; the rest is mmcv's."""

    def __init__(self, ext):
        self._ext = ext

    def __getattr__(self, name):
        return getattr(self._ext, name)

    @staticmethod
    def _torchvision_ops():
        try:
            from torchvision import ops
        except ImportError as err:
            raise ImportError(
                'mmcv was built without CUDA ops, so GenLoc runs mmdet\'s NMS / RoIAlign '
                'on the GPU through torchvision, which is not installed: pip install '
                'the torchvision of your torch, or install an mmcv built with CUDA '
                '(OpenMMLab\'s prebuilt wheels, torch <= 2.1).') from err
        return ops

    def nms(self, bboxes, scores, iou_threshold: float, offset: int):
        if _on_cuda(bboxes) and offset == 0:
            return self._torchvision_ops().nms(bboxes, scores, iou_threshold)
        return self._ext.nms(bboxes, scores, iou_threshold=iou_threshold, offset=offset)

    def roi_align_forward(self, input, rois, output, argmax_y, argmax_x, **kwargs):
        if _on_cuda(input) and kwargs['pool_mode'] == 1:  # 1: 'avg'
            output.copy_(self._torchvision_ops().roi_align(
                input, rois, (kwargs['aligned_height'], kwargs['aligned_width']),
                kwargs['spatial_scale'], kwargs['sampling_ratio'], kwargs['aligned']))
            return
        self._ext.roi_align_forward(input, rois, output, argmax_y, argmax_x, **kwargs)


def fix_cpu_only_mmcv_ops():
    """NMS and RoIAlign of CUDA tensors with mmcv ops built without CUDA (the module
    docstring, item 4); nothing changes for an mmcv built with CUDA."""
    from mmcv.ops import get_compiling_cuda_version
    if get_compiling_cuda_version() != 'not available':
        return
    for module in map(importlib.import_module, ('mmcv.ops.nms', 'mmcv.ops.roi_align')):
        if not isinstance(module.ext_module, _CudaOpsFromTorchvision):
            module.ext_module = _CudaOpsFromTorchvision(module.ext_module)
