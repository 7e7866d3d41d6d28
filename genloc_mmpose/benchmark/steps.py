"""Train and infer steps of the model on a synthetic batch, and the cost of the parts
of an inference step (backbone, head, decode)."""
import contextlib
import copy
import time

import numpy as np
import torch
from mmengine.optim import build_optim_wrapper
from mmengine.runner.amp import autocast
from mmengine.structures import InstanceData, PixelData
from mmpose.datasets.datasets.utils import parse_pose_metainfo
from mmpose.registry import DATASETS, MODELS
from mmpose.structures import PoseDataSample

from .config import check_divisor, optim_wrapper_cfg
from .timing import quiet_logger, sync, time_steps


def _flip_indices(cfg, num_keypoints):
    """The training dataset's flip indices if they are for ``num_keypoints``, else
    the identity."""
    try:
        dataset_cls = DATASETS.get(cfg.train_dataloader.dataset.type)
        flip = parse_pose_metainfo(dataset_cls.METAINFO)['flip_indices']
        if len(flip) == num_keypoints:
            return list(flip)
    except Exception:  # noqa: BLE001 (a custom dataset: identity is fine here)
        pass
    return list(range(num_keypoints))


def make_batch(model, cfg, batch_size, input_size, device, seed):
    """Inputs (B, 3, H, W) in [-1, 1] and PoseDataSample's with the codec's gt of
    random keypoints (one instance per image, input size (W, H))."""
    width, height = input_size
    codec = model.head.decoder
    num_keypoints = model.backbone.conditions.shape[0]
    flip_indices = _flip_indices(cfg, num_keypoints)
    rng = np.random.RandomState(seed)
    gen = torch.Generator().manual_seed(seed)
    inputs = torch.rand(batch_size, 3, height, width, generator=gen) * 2 - 1
    samples = []
    for i in range(batch_size):
        keypoints = rng.uniform([0.1 * width, 0.1 * height], [0.9 * width, 0.9 * height],
                                size=(1, num_keypoints, 2)).astype(np.float32)
        visible = (rng.rand(1, num_keypoints) > 0.2).astype(np.float32)
        encoded = codec.encode(keypoints, visible)
        sample = PoseDataSample(metainfo=dict(
            id=i, img_id=i, img_path=f'<synthetic {i}>', category_id=1,
            ori_shape=(height, width), img_shape=(height, width),
            input_size=(width, height),
            input_center=np.array([width / 2, height / 2], dtype=np.float32),
            input_scale=np.array([width, height], dtype=np.float32),
            flip=False, flip_direction=None, flip_indices=flip_indices))
        sample.gt_instances = InstanceData(
            bboxes=np.array([[0, 0, width, height]], dtype=np.float32),
            bbox_scores=np.ones(1, dtype=np.float32),
            keypoints=keypoints, keypoints_visible=visible)
        sample.gt_instance_labels = InstanceData(
            keypoint_weights=torch.from_numpy(encoded['keypoint_weights']))
        sample.gt_fields = PixelData(heatmaps=torch.from_numpy(encoded['heatmaps']))
        samples.append(sample.to(device))
    return inputs.to(device), samples


def build_model(cfg, args, settings, device):
    """The config's model on ``device``, initialised; returns (model, info: build
    time in s, size divisor, K, parameter counts, CKHE layers)."""
    t0 = time.perf_counter()
    torch.manual_seed(args.seed)
    with torch.device(device):  # random SD-1.5 init on the GPU: seconds, not minutes
        model = MODELS.build(cfg.model)
    with quiet_logger():  # init_weights dumps one line per parameter
        model.init_weights()
    model.to(device)
    build_s = time.perf_counter() - t0
    divisor = getattr(model.backbone, 'size_divisor', None)
    check_divisor(settings['input_size'], divisor)  # in case the config pre-check missed

    params = list(model.parameters())
    info = dict(
        build_s=build_s, size_divisor=divisor,
        num_keypoints=int(model.backbone.conditions.shape[0]),
        params_total=sum(p.numel() for p in params),
        params_trainable=sum(p.numel() for p in params if p.requires_grad),
        ckhe_layers=len(getattr(model.backbone, 'ckhe_processors', [])))
    return model, info


def _train_step(model, optim_wrapper, inputs, samples, cpu_autocast):
    """One optimizer step on the batch (loss, backward, update); returns the loss."""

    def step():
        extra = (autocast(device_type='cpu', dtype=torch.bfloat16)
                 if cpu_autocast else contextlib.nullcontext())
        with optim_wrapper.optim_context(model), extra:
            losses = model(inputs, samples, mode='loss')
            loss, _ = model.parse_losses(losses)
        optim_wrapper.update_params(loss)
        return loss

    return step


def _infer_step(model, inputs, samples):
    """One ``predict`` of the batch; returns its PoseDataSample's."""

    def step():  # the backbone autocasts (compute_dtype), as in tools/test.py
        with torch.no_grad():
            return model(inputs, samples, mode='predict')

    return step


def bench_model(cfg, args, settings, device):
    """Time the ``train`` and ``infer`` steps of ``args.modes`` in order on one
    synthetic batch; returns (model info, {mode: result}). A mode that runs out of
    CUDA memory gets ``error`` (and its peak MiB) instead of timings."""
    model, info = build_model(cfg, args, settings, device)
    inputs, samples = make_batch(model, cfg, settings['batch_size'],
                                 settings['input_size'], device, args.seed)
    results = {}
    optim_wrapper = cpu_autocast = None
    for mode in args.modes:
        if mode in ('test', 'inferencer'):
            continue  # their own Runner / inferencer, after the others
        if mode == 'train':
            if optim_wrapper is None:
                optim_cfg, cpu_autocast = optim_wrapper_cfg(cfg, settings['dtype'], device)
                with quiet_logger():  # one warning per frozen parameter
                    optim_wrapper = build_optim_wrapper(model, optim_cfg)
                settings['optim_wrapper'] = optim_cfg['type'] + (
                    ' + torch.autocast(cpu, bfloat16)' if cpu_autocast else '')
            step = _train_step(model, optim_wrapper, inputs, samples, cpu_autocast)
            model.train()
        else:
            step = _infer_step(model, inputs, samples)
            model.eval()
        try:
            result, last = time_steps(step, device, args.iters, args.warmup,
                                      settings['batch_size'])
        except torch.cuda.OutOfMemoryError as exc:
            results[mode] = dict(error=f'CUDA out of memory: {str(exc).splitlines()[0]}',
                                 peak_mem_mb=torch.cuda.max_memory_allocated(device) /
                                 2**20)
            if optim_wrapper is not None:
                optim_wrapper.zero_grad()
            continue
        if mode == 'train':
            result['loss'] = float(last.detach().float()) if last is not None else None
            optim_wrapper.zero_grad()
        else:
            result['num_predictions'] = len(last) if last is not None else None
            result.update(time_decode(model, inputs, device, args.iters))
            result['decode_share'] = result['decode_ms'] / result['iter_ms_mean']
        results[mode] = result
    return info, results


def time_decode(model, inputs, device, iters):
    """ms per batch of the parts of an inference step (no flip): the backbone (VAE
    encoder + U-Net + CKHE maps, ``backbone_ms``), the head's fusion of the layer
    maps (``head_ms``), and the codec's ``batch_decode`` (fused maps -> keypoints,
    scores on the host) with the config's refinement (``decode_ms``) and as a plain
    argmax (``decode_argmax_ms``)."""
    result = {}

    def timed(key, fn, arg):
        fn(arg)  # warm-up
        sync(device)
        start = time.perf_counter()
        for _ in range(iters):
            out = fn(arg)
            sync(device)
        result[key] = 1e3 * (time.perf_counter() - start) / iters
        return out

    with torch.no_grad():
        feats = timed('backbone_ms', model.extract_feat, inputs)
        heatmaps = timed('head_ms', model.head, feats)
    codec = model.head.decoder
    for key, refine in (('decode_ms', codec.refine), ('decode_argmax_ms', None)):
        decoder = copy.copy(codec)
        decoder.refine = refine
        decoder.batch_decode(heatmaps)  # warm-up
        sync(device)
        start = time.perf_counter()
        for _ in range(iters):
            decoder.batch_decode(heatmaps)  # ends with a host copy: synchronised
        result[key] = 1e3 * (time.perf_counter() - start) / iters
    result['refine'] = codec.refine
    return result
