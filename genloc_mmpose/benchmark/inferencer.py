"""``MMPoseInferencer`` top-down with an mmdet person detector, image by image."""
import contextlib
import glob
import io
import os.path as osp
import tempfile
import time
import warnings

import mmpose
import torch
from mmpose.apis import MMPoseInferencer

from ..resources import shipped
from .data import SAMPLE_DATA
from .timing import quiet_logger, sync

# MMPose's RTMDet-nano person detector demo config (random weights here)
DETECTOR = osp.join(osp.dirname(mmpose.__file__), '.mim', 'demo', 'mmdetection_cfg',
                    'rtmdet_nano_320-8xb32_coco-person.py')


def _build_inferencer(cfg, device):
    """The inferencer of ``cfg`` with :data:`DETECTOR`; returns (it, build s)."""
    with tempfile.TemporaryDirectory() as tmp:
        pose_cfg = osp.join(tmp, 'pose2d.py')
        cfg.dump(pose_cfg)
        t0 = time.perf_counter()
        with quiet_logger(), warnings.catch_warnings():
            warnings.simplefilter('ignore')
            inferencer = MMPoseInferencer(pose2d=pose_cfg, device=device,
                                          det_model=DETECTOR, det_cat_ids=[0])
        return inferencer, time.perf_counter() - t0


def bench_inferencer(cfg, args, settings):
    """MMPoseInferencer, top-down with an mmdet person detector (every box kept:
    ``bbox_thr=0``), on the COCO sample images on the device: images/s and persons
    (crops)/s after the warm-up images, and where the detector and pose model ran
    (CUDA tensors go through genloc_mmpose/patches/mmcv_cuda_ops.py's torchvision
    NMS / RoIAlign when mmcv has no CUDA ops)."""
    images = sorted(glob.glob(osp.join(shipped(SAMPLE_DATA['coco']['data_root']),
                                       '*.jpg')))
    inferencer, build_s = _build_inferencer(cfg, settings['device'])
    device = torch.device(settings['device'])
    persons, times, first = [], [], None
    for i in range(args.warmup + args.iters):
        start = time.perf_counter()
        with contextlib.redirect_stdout(io.StringIO()):
            result = next(inferencer(images[i % len(images)], bbox_thr=0.0))
        sync(device)
        if i == 0:
            first = time.perf_counter() - start
        if i >= args.warmup:
            times.append(time.perf_counter() - start)
            persons.append(len(result['predictions'][0]))
    pose = inferencer.inferencer.model
    det = inferencer.inferencer.detector.model
    total = sum(times)
    return dict(images=len(times), persons=sum(persons), build_s=build_s,
                first_iter_s=first, images_per_s=len(times) / total,
                persons_per_s=sum(persons) / total,
                iter_ms_mean=1e3 * total / len(times),
                pose_device=str(next(pose.parameters()).device),
                det_device=str(next(det.parameters()).device),
                detector=osp.basename(DETECTOR),
                peak_mem_mb=(torch.cuda.max_memory_allocated(device) / 2**20
                             if device.type == 'cuda' else None))
