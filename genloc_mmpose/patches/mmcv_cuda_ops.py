"""mmcv's ops built without CUDA (as ``make env`` builds them: mmcv 2.1.0 ships as a
source dist only, and OpenMMLab's prebuilt CUDA wheels stop at torch 2.1) fail on CUDA
tensors, and mmdet's detectors call mmcv's NMS (and RoIAlign in two-stage detectors) on
the GPU.

The fix: those two run on CUDA tensors through torchvision's CUDA kernels (the same
definitions: IoU > threshold suppressed, offset 0; average RoIAlign with mmcv's
sampling and alignment), for inference; everything else, and every CPU call, is
mmcv's own. Its guard is the build, not a version: an mmcv with CUDA ops is left alone.
"""
import importlib


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


def applies() -> bool:
    """mmcv's ops were built without CUDA (as ``make env`` builds them)."""
    from mmcv.ops import get_compiling_cuda_version
    return get_compiling_cuda_version() == 'not available'


def apply() -> None:
    """NMS and RoIAlign of CUDA tensors with mmcv ops built without CUDA; nothing
    changes for an mmcv built with CUDA."""
    if not applies():
        return
    for module in map(importlib.import_module, ('mmcv.ops.nms', 'mmcv.ops.roi_align')):
        if not isinstance(module.ext_module, _CudaOpsFromTorchvision):
            module.ext_module = _CudaOpsFromTorchvision(module.ext_module)
