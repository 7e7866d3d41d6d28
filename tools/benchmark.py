#!/usr/bin/env python
"""Throughput and memory of a GenLoc config: train step, inference, data loading.

Builds the model from the config with MMPose's registry exactly as tools/train.py
does (``MODELS.build(cfg.model)``) and times, on a synthetic batch:

- ``train``: ``model(inputs, data_samples, mode='loss')``, ``parse_losses``,
  backward and optimizer step through the config's ``optim_wrapper`` (built by
  ``mmengine.optim.build_optim_wrapper``, ``accumulative_counts=1``; bf16 uses
  ``AmpOptimWrapper(dtype='bfloat16')`` on CUDA, ``torch.autocast`` on the CPU).
- ``infer``: ``model(inputs, data_samples, mode='predict')`` under ``no_grad``,
  flip test as ``--flip``/``--no-flip`` (default: the config's ``test_cfg``); the
  decode alone is timed too, with the config's refinement and as a plain argmax.
- ``test``: the whole test loop as tools/test.py runs it (``Runner.test()``: the
  config's test dataloader with its workers, model, decode, CocoMetric) over
  generated images (genloc_mmpose/synthetic/markers.py) of the input size.
- ``--loader``: images/s of the config's ``train_dataloader`` pipeline on the CPU
  with N workers, over the sample data in demo/data (repeated); and crops/s per CPU
  core (one process, one thread) of the config's training pipeline and of its test
  pipeline over the COCO sample's person detections, each as configured ("new")
  and as MMPose's transforms alone run it ("old": no reduced decode, no image
  cache), interleaved in one run with the same random draws.

Inputs are (B, 3, H, W) in [-1, 1] (what the data preprocessor hands the model);
targets are the codec's Gaussian heatmaps of random keypoints. Warm-up iterations
are excluded; the device is synchronised around each timed iteration.

Example (SD-1.5 architecture with random weights, nothing downloaded):

    python tools/benchmark.py \
        configs/genloc/ap10k/genloc_sd15-lora16_8xb25-100e_ap10k-256x256.py \
        --random-weights --batch-size 32 --input-size 256 256 --dtype bf16 \
        --modes train infer --iters 10 --warmup 3 --device cuda --json bench.json
"""
import argparse
import contextlib
import copy
import gc
import io
import json
import logging
import math
import os
import os.path as osp
import platform
import resource
import statistics
import subprocess
import sys
import time
import warnings

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
if REPO not in sys.path:  # run as a script from anywhere: find genloc_mmpose
    sys.path.insert(0, REPO)

import numpy as np  # noqa: E402
import torch  # noqa: E402
from mmengine.config import Config, DictAction  # noqa: E402
from mmengine.registry import init_default_scope  # noqa: E402

warnings.filterwarnings('ignore', message='pkg_resources is deprecated')
# mmpose finds the dataset metainfo files in its .mim folder: expected, not news.
warnings.filterwarnings('ignore', message='The metainfo config file')
MODES = ('train', 'infer', 'test')
SAMPLE_DATA = {
    'coco': dict(type='CocoDataset', data_root='demo/data/coco/',
                 ann_file='test_coco.json'),
    'ap10k': dict(type='AP10KDataset', data_root='demo/data/ap10k/',
                  ann_file='test_ap10k.json'),
}
# the test pipeline per core: COCO val images with the usual person detections
DETECTIONS = dict(type='CocoDataset', data_root='demo/data/coco/',
                  ann_file='test_coco.json', bbox_file='test_coco_det_AP_H_56.json')


class BenchmarkError(Exception):
    """A user error: reported as ``error: ...`` with exit status 2."""


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='GenLoc benchmark: train/infer images/s and peak memory, and '
        'data-loading images/s.')
    parser.add_argument('config', nargs='?', help='config file (not with --suite)')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction, default={},
                        help='override config keys, as in tools/train.py')
    parser.add_argument('--batch-size', type=int, default=None,
                        help="images per step (default: the config's "
                        'train_dataloader.batch_size)')
    parser.add_argument('--input-size', type=int, nargs=2, metavar=('W', 'H'),
                        default=None,
                        help="input crop W H (default: the codec's input_size); the "
                        'heatmap size follows with the config\'s input/heatmap ratio')
    parser.add_argument('--dtype', choices=['fp32', 'bf16'], default=None,
                        help='default: bf16 if the config uses AmpOptimWrapper '
                        'with bfloat16, else fp32')
    parser.add_argument('--with-cp', action=argparse.BooleanOptionalAction,
                        default=None,
                        help="U-Net gradient checkpointing (default: the config's)")
    parser.add_argument('--compile', action=argparse.BooleanOptionalAction,
                        default=False, help='torch.compile the U-Net')
    parser.add_argument('--flip', action=argparse.BooleanOptionalAction, default=None,
                        help="flip test in infer (default: the config's test_cfg)")
    parser.add_argument('--iters', type=int, default=10, help='timed iterations')
    parser.add_argument('--warmup', type=int, default=3,
                        help='untimed warm-up iterations (compile happens here)')
    parser.add_argument('--modes', nargs='*', choices=[*MODES, 'inferencer'],
                        default=list(MODES),
                        help='model benchmarks to run, in order (none: only --loader); '
                        'inferencer: MMPoseInferencer with an mmdet person detector '
                        '(random weights) on the COCO sample images, not by default')
    parser.add_argument('--suite', metavar='OUT_DIR', default=None,
                        help='run every GPU figure of docs/benchmarks.md (SUITE: one '
                        'JSON per step) and write OUT_DIR/summary.md; no config')
    parser.add_argument('--dry-run', action='store_true',
                        help='--suite: the same steps on the CPU with the tiny config, '
                        'tiny sizes, no compile (a check that the suite runs)')
    parser.add_argument('--suite-steps', nargs='+', default=None,
                        help='--suite: only these steps (names as in SUITE)')
    parser.add_argument('--device', default=None,
                        help='cuda, cuda:N or cpu (default: cuda if available)')
    parser.add_argument('--random-weights', action='store_true',
                        help='build the Stable Diffusion architecture with random '
                        'weights (model.backbone.pretrained=None): same cost, no '
                        'weights folder needed')
    parser.add_argument('--loader', action='store_true',
                        help="also time the config's train_dataloader pipeline")
    parser.add_argument('--workers', type=int, default=None,
                        help="loader workers (default: the config's num_workers)")
    parser.add_argument('--loader-iters', type=int, default=None,
                        help='timed loader batches (default: max(iters, 4*workers))')
    parser.add_argument('--pipeline-rounds', type=int, default=5,
                        help='--loader per core: interleaved old/new rounds of at '
                        'least 64 crops each (default 5)')
    parser.add_argument('--loader-data', choices=['auto', *SAMPLE_DATA], default='auto',
                        help='sample data for --loader (auto: ap10k for '
                        'AP10KDataset configs, else coco)')
    parser.add_argument('--threads', type=int, default=None,
                        help='torch CPU threads (default: torch\'s; on a busy '
                        'machine 1 avoids OpenMP oversubscription)')
    parser.add_argument('--test-images', type=int, default=None,
                        help='images for --modes test (default: (warmup + iters) x '
                        'batch size)')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--json', default=None, help='write all settings and results')
    return parser.parse_args(argv)


# --------------------------------------------------------------------------- config

def _resolve_input_size(cfg, input_size):
    """Set the codec input/heatmap size everywhere; return (input, heatmap) (W, H)."""
    decoder = cfg.model.head.decoder
    old_in = tuple(int(v) for v in decoder['input_size'])
    old_hm = tuple(int(v) for v in decoder['heatmap_size'])
    if input_size is None:
        return old_in, old_hm
    new_in = tuple(int(v) for v in input_size)
    if min(new_in) <= 0:
        raise BenchmarkError(f'--input-size must be positive, got {new_in}')
    strides = [i / h for i, h in zip(old_in, old_hm)]
    new_hm = tuple(round(i / s) for i, s in zip(new_in, strides))
    if any(abs(h * s - i) > 1e-6 for h, s, i in zip(new_hm, strides, new_in)):
        raise BenchmarkError(
            f'--input-size {new_in[0]} {new_in[1]} (W H) is not a multiple of the '
            f"config's input/heatmap stride {strides} (codec input_size {old_in}, "
            f'heatmap_size {old_hm}).')

    def update_codec(codec):
        if codec.get('type') == decoder.get('type') and tuple(
                codec.get('input_size', ())) == old_in:
            codec['input_size'] = new_in
            codec['heatmap_size'] = new_hm

    update_codec(decoder)
    if isinstance(cfg.get('codec'), dict):
        update_codec(cfg.codec)
    for key in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        pipeline = (cfg.get(key) or {}).get('dataset', {}).get('pipeline', [])
        for transform in pipeline:
            if transform.get('type') in ('TopdownAffine', 'GenLocTopdownAffine'):
                transform['input_size'] = new_in
            encoder = transform.get('encoder')
            if isinstance(encoder, dict):
                update_codec(encoder)
            elif isinstance(encoder, (list, tuple)):
                for enc in encoder:
                    update_codec(enc)
    return new_in, new_hm


def _size_divisor(backbone_cfg):
    """2**(U-Net down blocks - 1) * 2**(VAE blocks - 1), read from the config (or
    the weights folder), before the model is built; None if unknown."""
    from genloc_mmpose.models.backbone import SD15_UNET, SD15_VAE, _arch_config
    pretrained = backbone_cfg.get('pretrained')
    try:
        if pretrained is not None:
            unet = _arch_config(osp.join(pretrained, 'unet', 'config.json'))
            vae = _arch_config(osp.join(pretrained, 'vae', 'config.json'))
        else:
            unet = _arch_config(backbone_cfg.get('unet_cfg', SD15_UNET))
            vae = _arch_config(backbone_cfg.get('vae_cfg', SD15_VAE))
        return (2**(len(unet['down_block_types']) - 1) *
                2**(len(vae['block_out_channels']) - 1))
    except (OSError, KeyError, TypeError, ValueError):
        return None


def _check_divisor(input_size, divisor):
    width, height = input_size
    if divisor and (width % divisor or height % divisor):
        good = tuple(max(divisor, round(v / divisor) * divisor) for v in input_size)
        raise BenchmarkError(
            f'--input-size {width} {height} (W H) is not a multiple of {divisor}, the '
            'size divisor of this model (VAE downsampling x U-Net downsampling); '
            f'use e.g. --input-size {good[0]} {good[1]}.')


def _default_dtype(cfg):
    optim = cfg.get('optim_wrapper') or {}
    if optim.get('type') == 'AmpOptimWrapper' and str(
            optim.get('dtype')) in ('bfloat16', 'torch.bfloat16'):
        return 'bf16'
    return 'fp32'


def _optim_wrapper_cfg(cfg, dtype, device):
    optim = copy.deepcopy(cfg.optim_wrapper)
    optim = optim.to_dict() if hasattr(optim, 'to_dict') else dict(optim)
    optim['accumulative_counts'] = 1
    cpu_autocast = False
    if dtype == 'bf16' and device.type == 'cuda':
        optim['type'] = 'AmpOptimWrapper'
        optim['dtype'] = 'bfloat16'
    else:
        # AmpOptimWrapper refuses the CPU: plain OptimWrapper (+ torch.autocast).
        optim['type'] = 'OptimWrapper'
        optim.pop('dtype', None)
        optim.pop('loss_scale', None)
        cpu_autocast = dtype == 'bf16'
    return optim, cpu_autocast


# ------------------------------------------------------------------------- synthetic

def _flip_indices(cfg, num_keypoints):
    try:
        from mmpose.datasets.datasets.utils import parse_pose_metainfo
        from mmpose.registry import DATASETS
        dataset_cls = DATASETS.get(cfg.train_dataloader.dataset.type)
        flip = parse_pose_metainfo(dataset_cls.METAINFO)['flip_indices']
        if len(flip) == num_keypoints:
            return list(flip)
    except Exception:  # noqa: BLE001 (a custom dataset: identity is fine here)
        pass
    return list(range(num_keypoints))


def make_batch(model, cfg, batch_size, input_size, device, seed):
    """Inputs (B, 3, H, W) in [-1, 1] and PoseDataSample's with the codec's gt."""
    from mmengine.structures import InstanceData, PixelData
    from mmpose.structures import PoseDataSample

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


# --------------------------------------------------------------------------- timing

def _sync(device):
    if device.type == 'cuda':
        torch.cuda.synchronize(device)


def _max_rss_mb():
    # Linux: KiB. Process-wide peak, so only growth beyond earlier peaks shows.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def time_steps(step, device, iters, warmup, images_per_step):
    """Run ``warmup`` + ``iters`` steps; images/s over the timed ones."""
    gc.collect()
    if device.type == 'cuda':
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(device)
    rss0 = _max_rss_mb()
    mem0 = torch.cuda.memory_allocated(device) if device.type == 'cuda' else None
    first_iter_s = None
    for i in range(warmup):
        start = time.perf_counter()
        step()
        _sync(device)
        if i == 0:
            first_iter_s = time.perf_counter() - start
    times = []
    last = None
    _sync(device)
    t0 = time.perf_counter()
    for _ in range(iters):
        start = time.perf_counter()
        last = step()
        _sync(device)
        times.append(time.perf_counter() - start)
    total = time.perf_counter() - t0
    result = dict(
        iters=iters, warmup=warmup, batch_size=images_per_step,
        images_per_s=iters * images_per_step / total if total > 0 else None,
        time_s=total,
        iter_ms_mean=1e3 * statistics.fmean(times) if times else None,
        iter_ms_median=1e3 * statistics.median(times) if times else None,
        iter_ms_min=1e3 * min(times) if times else None,
        first_iter_s=first_iter_s)
    if device.type == 'cuda':
        result.update(
            peak_mem_mb=torch.cuda.max_memory_allocated(device) / 2**20,
            peak_mem_reserved_mb=torch.cuda.max_memory_reserved(device) / 2**20,
            start_mem_mb=mem0 / 2**20,
            peak_rss_mb=_max_rss_mb(), peak_rss_delta_mb=None)
    else:
        rss = _max_rss_mb()
        result.update(peak_mem_mb=None, peak_mem_reserved_mb=None, start_mem_mb=None,
                      peak_rss_mb=rss, peak_rss_delta_mb=rss - rss0)
    return result, last


@contextlib.contextmanager
def _quiet_logger(level=logging.ERROR):
    from mmengine.logging import MMLogger
    logger = MMLogger.get_current_instance()
    old = logger.level
    logger.setLevel(level)
    try:
        yield
    finally:
        logger.setLevel(old)


def bench_model(cfg, args, settings, device):
    from mmengine.optim import build_optim_wrapper
    from mmengine.runner.amp import autocast
    from mmpose.registry import MODELS

    t0 = time.perf_counter()
    torch.manual_seed(args.seed)
    cfg.model.backbone.compile = bool(args.compile)
    with torch.device(device):  # random SD-1.5 init on the GPU: seconds, not minutes
        model = MODELS.build(cfg.model)
    with _quiet_logger():  # init_weights dumps one line per parameter
        model.init_weights()
    model.to(device)
    build_s = time.perf_counter() - t0
    divisor = getattr(model.backbone, 'size_divisor', None)
    _check_divisor(settings['input_size'], divisor)  # in case the config pre-check missed

    params = list(model.parameters())
    info = dict(
        build_s=build_s, size_divisor=divisor,
        num_keypoints=int(model.backbone.conditions.shape[0]),
        params_total=sum(p.numel() for p in params),
        params_trainable=sum(p.numel() for p in params if p.requires_grad),
        ckhe_layers=len(getattr(model.backbone, 'ckhe_processors', [])))

    inputs, samples = make_batch(model, cfg, settings['batch_size'],
                                 settings['input_size'], device, args.seed)
    results = {}
    optim_wrapper = cpu_autocast = None
    for mode in args.modes:
        if mode in ('test', 'inferencer'):
            continue  # their own Runner / inferencer, after the others
        if mode == 'train':
            if optim_wrapper is None:
                optim_cfg, cpu_autocast = _optim_wrapper_cfg(cfg, settings['dtype'],
                                                             device)
                with _quiet_logger():  # one warning per frozen parameter
                    optim_wrapper = build_optim_wrapper(model, optim_cfg)
                settings['optim_wrapper'] = optim_cfg['type'] + (
                    ' + torch.autocast(cpu, bfloat16)' if cpu_autocast else '')

            def step():
                extra = (autocast(device_type='cpu', dtype=torch.bfloat16)
                         if cpu_autocast else contextlib.nullcontext())
                with optim_wrapper.optim_context(model), extra:
                    losses = model(inputs, samples, mode='loss')
                    loss, _ = model.parse_losses(losses)
                optim_wrapper.update_params(loss)
                return loss

            model.train()
        else:

            def step():  # the backbone autocasts (compute_dtype), as in tools/test.py
                with torch.no_grad():
                    return model(inputs, samples, mode='predict')

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
        _sync(device)
        start = time.perf_counter()
        for _ in range(iters):
            out = fn(arg)
            _sync(device)
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
        _sync(device)
        start = time.perf_counter()
        for _ in range(iters):
            decoder.batch_decode(heatmaps)  # ends with a host copy: synchronised
        result[key] = 1e3 * (time.perf_counter() - start) / iters
    result['refine'] = codec.refine
    return result


def _synthetic_test_data(cfg, out_dir, num_images, input_size, seed):
    """Generated images (one creature each, genloc_mmpose/synthetic/markers.py)
    at the input size, annotated with the config's K keypoints (the creature's,
    repeated): a COCO json for the config's own dataset class and metric."""
    import cv2
    from genloc_mmpose.synthetic.markers import load_metainfo, make_image
    from mmpose.datasets.datasets.utils import parse_pose_metainfo
    from mmpose.registry import DATASETS
    dataset = cfg.test_dataloader.dataset
    meta = parse_pose_metainfo(dataset.get('metainfo') or DATASETS.get(
        dataset.type).METAINFO)
    num_keypoints = meta['num_keypoints']
    markers = load_metainfo()
    width, height = input_size
    images, annotations = [], []
    for index in range(num_images):
        img, instances = make_image(seed, 'test', index, width, height, markers)
        name = f'{index:06d}.png'
        cv2.imwrite(osp.join(out_dir, name), img)
        images.append(dict(id=index + 1, file_name=name, width=width, height=height))
        for inst in instances:
            picks = np.arange(num_keypoints) % len(inst['keypoints'])
            kpts = np.concatenate([inst['keypoints'][picks],
                                   2 * inst['visible'][picks, None]], 1)
            annotations.append(dict(
                id=len(annotations) + 1, image_id=index + 1, category_id=1,
                bbox=[float(v) for v in inst['bbox']], area=float(inst['area']),
                iscrowd=0, num_keypoints=int(inst['visible'][picks].sum()),
                keypoints=[float(v) for v in kpts.ravel()]))
    ann_file = osp.join(out_dir, 'annotations.json')
    with open(ann_file, 'w') as f:
        json.dump(dict(images=images, annotations=annotations, categories=[dict(
            id=1, name='object', keypoints=list(meta['keypoint_id2name'].values()),
            skeleton=[])]), f)
    return ann_file, len(annotations)


def bench_test(cfg, args, settings):
    """Runner.test() of the config over generated data: img/s of the whole loop."""
    import tempfile
    from mmengine.hooks import Hook
    from mmengine.runner import Runner

    class Clock(Hook):
        def __init__(self):
            self.marks = []

        def before_test_epoch(self, runner):
            self.marks.append(time.perf_counter())

        def after_test_iter(self, runner, batch_idx, data_batch=None, outputs=None):
            _sync(torch.device(settings['device']))
            self.marks.append(time.perf_counter())

        def after_test_epoch(self, runner, metrics=None):
            self.marks.append(time.perf_counter())

    batch_size = settings['batch_size']
    num_images = args.test_images or (args.warmup + args.iters) * batch_size
    with tempfile.TemporaryDirectory() as tmp:
        ann_file, num_instances = _synthetic_test_data(
            cfg, tmp, num_images, settings['input_size'], args.seed)
        cfg = copy.deepcopy(cfg)
        loader = cfg.test_dataloader
        loader.batch_size = batch_size
        loader.num_workers = settings['workers']
        if not loader.num_workers:
            loader.pop('persistent_workers', None)
        loader.dataset.update(data_root=tmp, ann_file=ann_file, data_prefix=dict(img=''),
                              bbox_file=None)
        evaluator = cfg.test_evaluator
        for metric in evaluator if isinstance(evaluator, list) else [evaluator]:
            if 'ann_file' in metric:
                metric['ann_file'] = ann_file
        cfg.work_dir = osp.join(tmp, 'work_dir')
        cfg.load_from = None
        cfg.log_level = 'WARNING'
        with _quiet_logger():
            runner = Runner.from_cfg(cfg)
        clock = Clock()
        runner.register_hook(clock, priority='VERY_LOW')
        start = time.perf_counter()
        with contextlib.redirect_stdout(io.StringIO()):  # pycocotools' tables
            metrics = runner.test()
        total = time.perf_counter() - start
    marks = clock.marks
    iters = len(marks) - 2
    warmup = min(args.warmup, iters - 1)
    # steady state: the iterations after the warm-up ones (compile, worker start);
    # marks: epoch start, after each iteration, epoch end (after the metric)
    steady = marks[-2] - marks[warmup]
    steady_crops = num_instances - min(num_instances, warmup * batch_size)
    return dict(
        images=num_images, crops=num_instances, batch_size=batch_size, iters=iters,
        warmup=warmup, workers=settings['workers'], time_s=total,
        images_per_s=steady_crops / steady if steady > 0 else None,
        end_to_end_images_per_s=num_instances / total,
        first_iter_s=marks[1] - marks[0], metric_s=marks[-1] - marks[-2],
        iter_ms_mean=1e3 * steady / max(iters - warmup, 1),
        coco_AP=metrics.get('coco/AP'),
        peak_mem_mb=(torch.cuda.max_memory_allocated() / 2**20
                     if torch.cuda.is_available() else None),
        peak_rss_mb=_max_rss_mb(), peak_rss_delta_mb=None)


def bench_loader(cfg, args, settings):
    from mmengine.runner import Runner
    from mmpose.registry import DATASETS

    dl_cfg = copy.deepcopy(cfg.train_dataloader)
    dl_cfg = dl_cfg.to_dict() if hasattr(dl_cfg, 'to_dict') else dict(dl_cfg)
    dataset = dl_cfg['dataset']
    which = args.loader_data
    if which == 'auto':
        which = 'ap10k' if dataset.get('type') == 'AP10KDataset' else 'coco'
    sample = SAMPLE_DATA[which]
    if dataset.get('type') != sample['type']:
        dataset['type'] = sample['type']
    dataset.update(data_root=osp.join(REPO, sample['data_root']),
                   ann_file=sample['ann_file'], data_prefix=dict(img=''))
    base_len = len(DATASETS.build(copy.deepcopy(dataset)))
    if base_len == 0:
        raise BenchmarkError(f'no training instances in the {which} sample data')
    workers = settings['workers']
    loader_iters = args.loader_iters or max(args.iters, 4 * max(workers, 1))
    warmup = max(args.warmup, 1)
    needed = (loader_iters + warmup + 2) * settings['batch_size']
    times = math.ceil(needed / base_len)
    dl_cfg['dataset'] = dict(type='RepeatDataset', times=times, dataset=dataset)
    dl_cfg['batch_size'] = settings['batch_size']
    dl_cfg['num_workers'] = workers
    if workers > 0:
        dl_cfg['persistent_workers'] = bool(dl_cfg.get('persistent_workers', False))
    else:
        dl_cfg.pop('persistent_workers', None)
        dl_cfg.pop('prefetch_factor', None)
    loader = Runner.build_dataloader(dl_cfg, seed=args.seed)

    t0 = time.perf_counter()
    it = iter(loader)
    first_batch_s = None
    for i in range(warmup):
        next(it)
        if i == 0:
            first_batch_s = time.perf_counter() - t0
    count = 0
    start = time.perf_counter()
    for _ in range(loader_iters):
        batch = next(it)
        count += len(batch['inputs'])
    total = time.perf_counter() - start
    del it, loader
    return dict(images_per_s=count / total if total > 0 else None, images=count,
                batches=loader_iters, batch_ms_mean=1e3 * total / loader_iters,
                warmup=warmup, time_s=total, first_batch_s=first_batch_s, workers=workers,
                batch_size=settings['batch_size'], sample_data=which,
                dataset_type=dataset['type'], sample_instances=base_len,
                repeat_times=times, cpu_count=os.cpu_count())


def _timed_pipeline(pipeline_cfg):
    """A Compose of ``pipeline_cfg`` whose transforms add their time to ``.ms``."""
    from mmengine.dataset import Compose

    compose = Compose(pipeline_cfg)
    spent = {}

    def timed(transform, name):
        def call(results):
            start = time.perf_counter()
            out = transform(results)
            spent[name] = spent.get(name, 0.0) + time.perf_counter() - start
            return out
        return call

    names = []
    for transform in compose.transforms:
        name = type(transform).__name__
        while name in names:
            name += "'"
        names.append(name)
    compose.transforms = [timed(t, n) for t, n in zip(compose.transforms, names)]
    compose.spent = spent
    return compose


def bench_pipelines(cfg, args):
    """Crops/s per CPU core of the config's training pipeline (on its sample data)
    and test pipeline (on the COCO sample's 118 person detections), as configured
    ("new") and as MMPose's transforms alone run them ("old",
    ``genloc_mmpose.datasets.transforms.mmpose_pipeline``), and for a training
    pipeline with a deferred decode also with ``decode_cache_dir`` ("cached", a
    temporary folder filled in the warm-up round: the epochs after the first). One
    process, one OpenCV/torch thread; the variants alternate round by round with the
    same random draws, so that a busy machine slows all alike: compare the ratios."""
    import tempfile

    import cv2
    from mmpose.registry import DATASETS

    from genloc_mmpose.datasets.transforms import mmpose_pipeline

    train_ds = copy.deepcopy(cfg.train_dataloader.dataset)
    which = args.loader_data
    if which == 'auto':
        which = 'ap10k' if train_ds.get('type') == 'AP10KDataset' else 'coco'
    test_ds = cfg.test_dataloader.dataset
    cases = [('train', which, dict(SAMPLE_DATA[which], test_mode=False),
              train_ds.pipeline),
             ('test', 'coco detections', dict(DETECTIONS, test_mode=True),
              test_ds.pipeline)]
    threads = cv2.getNumThreads(), torch.get_num_threads()
    cv2.setNumThreads(1)
    torch.set_num_threads(1)
    out = {}
    tmp = tempfile.TemporaryDirectory(prefix='genloc_decode_cache_')
    try:
        for name, data, dataset, pipeline in cases:
            dataset = dict(dataset, data_prefix=dict(img=''), pipeline=[],
                           data_root=osp.join(REPO, dataset['data_root']))
            if dataset.get('bbox_file'):
                dataset['bbox_file'] = osp.join(dataset['data_root'], dataset['bbox_file'])
            with _quiet_logger():
                infos = DATASETS.build(dataset)
            infos = [infos.get_data_info(i) for i in range(len(infos))]
            passes = math.ceil(64 / len(infos))
            configs = dict(old=mmpose_pipeline(pipeline), new=pipeline)
            loader = pipeline[0] if pipeline else {}
            if loader.get('type') == 'GenLocLoadImage' and loader.get('reduced_decode'):
                configs['cached'] = [dict(loader, decode_cache_dir=osp.join(tmp.name, name))
                                     ] + list(pipeline[1:])
            variants = {key: _timed_pipeline(p) for key, p in configs.items()}
            total = dict.fromkeys(variants, 0.0)
            ratios = {key: [] for key in variants if key != 'old'}
            for rnd in range(max(args.pipeline_rounds, 1) + 1):  # round 0: warm-up
                spent = {}
                for key, compose in variants.items():
                    np.random.seed(args.seed + rnd)
                    spent[key] = 0.0
                    for _ in range(passes):
                        for info in infos:
                            info = copy.deepcopy(info)  # as the dataset hands it on
                            start = time.perf_counter()
                            compose(info)
                            spent[key] += time.perf_counter() - start
                    if rnd == 0:
                        compose.spent.clear()
                if rnd:
                    total = {key: total[key] + spent[key] for key in total}
                    for key in ratios:
                        ratios[key].append(spent['old'] / spent[key])
            crops = passes * len(infos) * max(args.pipeline_rounds, 1)
            result = dict(data=data, instances=len(infos), crops=crops,
                          rounds=max(args.pipeline_rounds, 1),
                          images=len({info['img_path'] for info in infos}))
            for key, compose in variants.items():
                result[key] = dict(
                    crops_per_s=crops / total[key], ms_per_crop=1e3 * total[key] / crops,
                    pipeline=[t['type'] for t in (
                        mmpose_pipeline(pipeline) if key == 'old' else pipeline)],
                    transform_ms={k: 1e3 * v / crops for k, v in compose.spent.items()})
            for key in ratios:
                suffix = '' if key == 'new' else f'_{key}'
                result[f'speedup{suffix}'] = total['old'] / total[key]
                result[f'speedup{suffix}_round_median'] = statistics.median(ratios[key])
                result[f'speedup{suffix}_round_min'] = min(ratios[key])
            out[name] = result
    finally:
        tmp.cleanup()
        cv2.setNumThreads(threads[0])
        torch.set_num_threads(threads[1])
    return out


def format_pipelines(per_core):
    lines = ['loader per CPU core (crops/s, one thread; old = MMPose transforms, new = '
             'as configured, new+cache = with decode_cache_dir after its first epoch; '
             'interleaved)']
    header = (f"{'pipeline':<10}{'data':<18}{'crops':>7}{'old':>9}{'variant':>11}"
              f"{'crops/s':>9}{'speedup':>9}{'(rounds: median, min)':>24}")
    lines += [header, '-' * len(header)]
    for name, r in per_core.items():
        lead = (f"{name:<10}{r['data']:<18}{r['crops']:>7}"
                f"{r['old']['crops_per_s']:>9.1f}")
        for key, label in (('new', 'new'), ('cached', 'new+cache')):
            if key in r:
                speedup = 'speedup' + ('' if key == 'new' else f'_{key}')
                lines.append(f"{lead}{label:>11}{r[key]['crops_per_s']:>9.1f}"
                             f"{r[speedup]:>8.2f}x{r[speedup + '_round_median']:>15.2f}x, "
                             f"{r[speedup + '_round_min']:.2f}x")
                lead = ' ' * len(lead)
        for key in [k for k in ('old', 'new', 'cached') if k in r]:
            parts = ', '.join(f'{k} {v:.2f}' for k, v in r[key]['transform_ms'].items())
            lines.append(f'    {key} ms/crop: {parts}')
    return '\n'.join(lines)


def bench_inferencer(cfg, args, settings):
    """MMPoseInferencer, top-down with an mmdet person detector (MMPose's RTMDet-nano
    demo config with random weights, every box kept: ``bbox_thr=0``), on the COCO
    sample images on the device: images/s and persons (crops)/s after the warm-up
    images, and where the detector and pose model ran (CUDA tensors go through
    genloc_mmpose/patches/mmcv_cuda_ops.py's torchvision NMS / RoIAlign when mmcv has no CUDA ops)."""
    import glob
    import tempfile

    import mmpose
    from mmpose.apis import MMPoseInferencer

    det_cfg = osp.join(osp.dirname(mmpose.__file__), '.mim', 'demo', 'mmdetection_cfg',
                       'rtmdet_nano_320-8xb32_coco-person.py')
    images = sorted(glob.glob(osp.join(REPO, SAMPLE_DATA['coco']['data_root'], '*.jpg')))
    with tempfile.TemporaryDirectory() as tmp:
        pose_cfg = osp.join(tmp, 'pose2d.py')
        cfg.dump(pose_cfg)
        t0 = time.perf_counter()
        with _quiet_logger(), warnings.catch_warnings():
            warnings.simplefilter('ignore')
            inferencer = MMPoseInferencer(pose2d=pose_cfg, device=settings['device'],
                                          det_model=det_cfg, det_cat_ids=[0])
        build_s = time.perf_counter() - t0
    device = torch.device(settings['device'])
    persons, times, first = [], [], None
    for i in range(args.warmup + args.iters):
        start = time.perf_counter()
        with contextlib.redirect_stdout(io.StringIO()):
            result = next(inferencer(images[i % len(images)], bbox_thr=0.0))
        _sync(device)
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
                detector=osp.basename(det_cfg),
                peak_mem_mb=(torch.cuda.max_memory_allocated(device) / 2**20
                             if device.type == 'cuda' else None))


# ----------------------------------------------------------------------------- suite

AP10K_CONFIG = 'configs/genloc/ap10k/genloc_sd15-lora16_8xb25-100e_ap10k-256x256.py'
COCO_CONFIG = 'configs/genloc/coco/genloc_sd15-lora16_8xb25-14e_coco-256x192.py'
WHOLEBODY_CONFIG = ('configs/genloc/coco_wholebody/'
                    'genloc_sd15-lora16_8xb25-14e_coco-wholebody-256x192.py')
TINY_CONFIG = 'configs/genloc/tiny/genloc_tiny_1xb6-300it_coco-128x96.py'


def suite_steps(dry_run=False):
    """Every GPU figure of docs/benchmarks.md as (name, config, arguments): SD-1.5
    architecture with random weights, bf16, batch 32 at 256x256 (K = 17), eager and
    compiled, flip test batched, the test loop, 512x512 with with_cp, K = 133, the
    loader with 8 workers and per core, MMPoseInferencer with a detector.
    ``dry_run``: the same steps on the CPU with the tiny config and tiny sizes, without
    torch.compile (minutes on the CPU)."""
    batch = ['--batch-size', '1' if dry_run else '32']
    size = ['--input-size', *(('48', '64') if dry_run else ('256', '256'))]
    big = ['--input-size', *(('64', '64') if dry_run else ('512', '512'))]
    compile_ = ['--no-compile'] if dry_run else ['--compile']

    def config(name):
        return TINY_CONFIG if dry_run else name

    steps = [
        ('eager_256', config(AP10K_CONFIG),
         ['--modes', 'train', 'infer', '--no-flip', '--no-with-cp', *batch, *size]),
        ('eager_256_flip', config(AP10K_CONFIG),
         ['--modes', 'infer', '--flip', '--no-with-cp', *batch, *size]),
        ('compiled_256', config(AP10K_CONFIG),
         ['--modes', 'train', 'infer', '--no-flip', '--no-with-cp', *compile_, *batch,
          *size]),
        ('compiled_256_flip_test', config(AP10K_CONFIG),  # dry run: the tiny size
         ['--modes', 'infer', 'test', '--flip', '--no-with-cp', *compile_, *batch,
          *([] if dry_run else size), '--test-images', '2' if dry_run else '1024']),
        ('with_cp_512', config(AP10K_CONFIG),
         ['--modes', 'train', '--with-cp', '--batch-size', '1' if dry_run else '16', *big]),
        ('k133_256x192', config(WHOLEBODY_CONFIG),
         ['--modes', 'train', 'infer', '--no-flip', '--no-with-cp', *batch,
          '--input-size', *(('48', '64') if dry_run else ('192', '256'))]
         + (['--cfg-options', 'model.backbone.num_keypoints=133'] if dry_run else [])),
        ('loader_8_workers', config(AP10K_CONFIG),
         ['--modes', '--loader', '--workers', '0' if dry_run else '8', '--loader-data',
          'ap10k', '--pipeline-rounds', '1' if dry_run else '3']
         + (['--loader-iters', '1'] if dry_run else [])),
        ('inferencer_mmdet', config(COCO_CONFIG), ['--modes', 'inferencer', '--flip']),
    ]
    common = (['--device', 'cpu', '--threads', '1', '--iters', '1', '--warmup', '0']
              if dry_run else ['--device', 'cuda', '--iters', '10', '--warmup', '3'])
    common += ['--random-weights', '--dtype', 'bf16']
    return [(name, cfg, [*args, *common]) for name, cfg, args in steps]


def run_suite(args):
    """Run :func:`suite_steps` one after the other in this process (torch.compile's
    caches reset between steps), one JSON per step in ``args.suite``, then
    ``summary.md`` (one table) and ``suite.json`` (status and time of each step)."""
    out_dir = args.suite
    os.makedirs(out_dir, exist_ok=True)
    steps = suite_steps(args.dry_run)
    if args.suite_steps:
        unknown = set(args.suite_steps) - {name for name, _, _ in steps}
        if unknown:
            raise BenchmarkError(f'unknown --suite-steps {sorted(unknown)}; the steps: '
                                 f'{[name for name, _, _ in steps]}')
        steps = [step for step in steps if step[0] in args.suite_steps]
    if not args.dry_run and not torch.cuda.is_available():
        raise BenchmarkError('--suite needs a CUDA device (or --dry-run on the CPU)')
    t0 = time.perf_counter()
    record = dict(dry_run=bool(args.dry_run), started=time.strftime('%Y-%m-%d %H:%M:%S'),
                  steps=[])
    status = 0
    for name, config, step_args in steps:
        json_path = osp.join(out_dir, f'{name}.json')
        argv = [osp.join(REPO, config), *step_args, '--json', json_path]
        print(f'\n=== suite step {name}: tools/benchmark.py {" ".join(argv)}', flush=True)
        start = time.perf_counter()
        try:
            code = main(argv)
            error = None if code == 0 else f'exit status {code}'
        except Exception as exc:  # noqa: BLE001 (the next steps still run)
            error = f'{type(exc).__name__}: {exc}'
            print(f'suite step {name} failed: {error}', file=sys.stderr, flush=True)
        status = status or int(error is not None)
        record['steps'].append(dict(name=name, config=config, args=step_args,
                                    json=osp.basename(json_path), error=error,
                                    wall_s=time.perf_counter() - start))
        gc.collect()
        if hasattr(torch, '_dynamo'):
            torch._dynamo.reset()  # each compiled step compiles (and is timed) anew
        if torch.cuda.is_available():
            torch.cuda.empty_cache()
    record['total_s'] = time.perf_counter() - t0
    with open(osp.join(out_dir, 'suite.json'), 'w') as f:
        json.dump(record, f, indent=2)
    summary = format_suite(out_dir, record)
    with open(osp.join(out_dir, 'summary.md'), 'w') as f:
        f.write(summary)
    print('\n' + summary, flush=True)
    return status


def _gib(mb):
    return None if mb is None else mb / 1024


SUITE_COLUMNS = ('step', 'mode', 'input', 'batch', 'K', 'model', 'dtype',
                 'flip / with_cp', 'images/s', 'ms/iter', 'peak GiB', 'first iter s',
                 'notes')


def _row(*cells):
    cells = [('–' if c is None else str(c)) for c in cells]
    cells += ['–'] * (len(SUITE_COLUMNS) - len(cells))
    return '| ' + ' | '.join(cells) + ' |'


def format_suite(out_dir, record):
    """One markdown table of every step's results (from their JSON files)."""
    env = None
    rows = []
    for step in record['steps']:
        path = osp.join(out_dir, step['json'])
        if step['error'] or not osp.exists(path):
            rows.append(_row(step['name'], *[None] * 11,
                             f"failed: {step['error'] or 'no JSON'}"))
            continue
        with open(path) as f:
            report = json.load(f)
        env = env or report['env']
        s = report['settings']
        setting = (f"{s['input_size'][0]}x{s['input_size'][1]}", s['batch_size'],
                   (report.get('model') or {}).get('num_keypoints'),
                   'compiled' if s['compile'] else 'eager', s['dtype'])
        for mode, r in report['results'].items():
            if 'error' in r:
                rows.append(_row(step['name'], mode, *setting, *[None] * 5, r['error']))
                continue
            flip = f"flip {s['flip']}" if mode in ('infer', 'test', 'inferencer') else None
            if mode == 'train':
                flip = f"with_cp {s['with_cp']}"
            note = ''
            if mode == 'test':
                note = (f"share of infer {_fmt(r.get('share_of_infer'), '.2f')}, "
                        f"end to end {_fmt(r.get('end_to_end_images_per_s'))}/s")
            elif mode == 'infer':
                note = f"decode {_fmt(r.get('decode_ms'), '.1f')} ms/batch"
            elif mode == 'loader':
                note = f"{r['workers']} workers, {r['sample_data']} sample"
            elif mode == 'inferencer':
                note = (f"{_fmt(r['persons_per_s'])} persons/s, detector on "
                        f"{r['det_device']}, pose on {r['pose_device']}")
            rows.append(_row(
                step['name'], mode, *setting, flip, _fmt(r.get('images_per_s')),
                _fmt(r.get('iter_ms_mean', r.get('batch_ms_mean'))),
                _fmt(_gib(r.get('peak_mem_mb')), '.1f'),
                _fmt(r.get('first_iter_s', r.get('first_batch_s')), '.1f'), note))
        for name, r in (report.get('loader_per_core') or {}).items():
            rows.append(_row(
                step['name'], f'{name} pipeline, 1 core', *[None] * 6,
                f"{r['old']['crops_per_s']:.1f} → {r['new']['crops_per_s']:.1f}", None,
                None, None, f"{r['speedup']:.2f}x crops/s, old → new ({r['data']})"
                + (f"; with decode_cache_dir {r['cached']['crops_per_s']:.1f}/s, "
                   f"{r['speedup_cached']:.2f}x" if 'cached' in r else '')))
    env = env or {}
    numeric = ('batch', 'K', 'images/s', 'ms/iter', 'peak GiB', 'first iter s')
    title = '# GenLoc GPU benchmark suite'
    if record['dry_run']:
        title += ' (dry run: CPU, tiny config)'
    lines = [
        title, '',
        f"{record['started']}, {env.get('gpu') or env.get('device', '?')}, torch "
        f"{env.get('torch', '?')}, CUDA {env.get('cuda')}, Python {env.get('python', '?')}, "
        f"{env.get('cpu_count', '?')} CPUs, git {env.get('git_commit')}; whole suite "
        f"{record['total_s']:.0f} s. Random weights (the SD-1.5 architecture), "
        '`python tools/benchmark.py --suite DIR`; one JSON per step in this folder.', '',
        '| ' + ' | '.join(SUITE_COLUMNS) + ' |',
        '|' + '|'.join(' ---: ' if c in numeric else ' --- ' for c in SUITE_COLUMNS) + '|',
    ]
    return '\n'.join(lines + rows) + '\n'


# ---------------------------------------------------------------------------- report

def _env(device):
    env = dict(python=platform.python_version(), platform=platform.platform(),
               torch=torch.__version__, cuda=torch.version.cuda,
               cpu_count=os.cpu_count(), torch_threads=torch.get_num_threads(),
               device=str(device), hostname=platform.node())
    if device.type == 'cuda':
        env['gpu'] = torch.cuda.get_device_name(device)
        env['gpu_mem_mb'] = torch.cuda.get_device_properties(device).total_memory / 2**20
    for name in ('mmpose', 'mmengine', 'mmcv', 'diffusers', 'peft'):
        try:
            env[name] = __import__(name).__version__
        except Exception:  # noqa: BLE001
            env[name] = None
    try:
        env['git_commit'] = subprocess.run(
            ['git', 'rev-parse', '--short', 'HEAD'], cwd=REPO, capture_output=True,
            text=True, timeout=10).stdout.strip() or None
    except Exception:  # noqa: BLE001
        env['git_commit'] = None
    return env


def _fmt(value, spec=None):
    if value is None:
        return '-'
    return format(value, spec or ('.1f' if abs(value) >= 10 else '.3g'))


def format_table(report):
    s = report['settings']
    lines = [
        f"GenLoc benchmark: {osp.basename(report['config'])}",
        f"device {report['env'].get('gpu') or s['device']} | batch {s['batch_size']} | "
        f"input {s['input_size'][0]}x{s['input_size'][1]} (W x H) | heatmap "
        f"{s['heatmap_size'][0]}x{s['heatmap_size'][1]} | {s['dtype']} | with_cp "
        f"{s['with_cp']} | compile {s['compile']} | flip {s['flip']} | "
        f"{s['iters']} iters after {s['warmup']} warm-up",
    ]
    header = (f"{'mode':<8}{'img/s':>10}{'ms/iter':>10}{'median':>10}"
              f"{'first s':>9}{'peak MiB':>11}{'RSS +MiB':>10}")
    lines += [header, '-' * len(header)]
    for mode, r in report['results'].items():
        if 'error' in r:
            lines.append(f'{mode:<8}  ERROR: {r["error"]}')
            continue
        first = r.get('first_iter_s', r.get('first_batch_s'))
        lines.append(
            f"{mode:<8}{_fmt(r.get('images_per_s')):>10}"
            f"{_fmt(r.get('iter_ms_mean', r.get('batch_ms_mean'))):>10}"
            f"{_fmt(r.get('iter_ms_median')):>10}{_fmt(first, '.2f'):>9}"
            f"{_fmt(r.get('peak_mem_mb'), '.0f'):>11}"
            f"{_fmt(r.get('peak_rss_delta_mb'), '.0f'):>10}")
    if 'loader' in report['results'] and 'error' not in report['results']['loader']:
        r = report['results']['loader']
        lines.append(f"loader: {r['workers']} workers, {r['sample_data']} sample data "
                     f"({r['dataset_type']}), {r['images']} images")
    return '\n'.join(lines)


def main(argv=None):
    args = parse_args(argv)
    if args.suite:
        return run_suite(args)
    if args.config is None:
        raise BenchmarkError('give a config (or --suite OUT_DIR)')
    if args.iters < 1 or args.warmup < 0:
        raise BenchmarkError('--iters must be >= 1 and --warmup >= 0')
    if not args.modes and not args.loader:
        raise BenchmarkError('nothing to do: give --modes train/infer and/or --loader')

    if args.threads is not None:
        if args.threads < 1:
            raise BenchmarkError('--threads must be >= 1')
        torch.set_num_threads(args.threads)
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    init_default_scope(cfg.get('default_scope', 'mmpose'))
    import genloc_mmpose  # noqa: F401 (registers GenLoc modules)

    device = torch.device(args.device or ('cuda' if torch.cuda.is_available() else 'cpu'))
    if device.type == 'cuda' and not torch.cuda.is_available():
        raise BenchmarkError('--device cuda but CUDA is not available')
    backbone = cfg.model.backbone
    if args.random_weights:
        backbone.pretrained = None
    elif args.modes and backbone.get('pretrained') is not None and not osp.exists(
            backbone.pretrained):
        raise BenchmarkError(
            f'Stable Diffusion weights {backbone.pretrained!r} not found: pass '
            '--random-weights to benchmark the same architecture with random weights '
            '(same cost), or set model.backbone.pretrained.')
    if args.with_cp is not None:
        backbone.with_cp = args.with_cp
    test_cfg = cfg.model.setdefault('test_cfg', {})
    if args.flip is not None:
        test_cfg['flip_test'] = args.flip
    input_size, heatmap_size = _resolve_input_size(cfg, args.input_size)
    _check_divisor(input_size, _size_divisor(backbone))

    settings = dict(
        config=args.config, cfg_options=args.cfg_options or {},
        batch_size=args.batch_size or int(cfg.train_dataloader.batch_size),
        input_size=list(input_size), heatmap_size=list(heatmap_size),
        dtype=args.dtype or _default_dtype(cfg),
        with_cp=bool(backbone.get('with_cp', False)), compile=bool(args.compile),
        flip=bool(test_cfg.get('flip_test', False)), iters=args.iters,
        warmup=args.warmup, modes=list(args.modes), device=str(device),
        random_weights=bool(args.random_weights or backbone.get('pretrained') is None),
        pretrained=backbone.get('pretrained'), loader=bool(args.loader),
        workers=(args.workers if args.workers is not None else int(
            cfg.train_dataloader.get('num_workers', 0))),
        threads=torch.get_num_threads(), seed=args.seed)
    backbone.compile = bool(args.compile)
    # the precision of training and evaluation alike (GenLocBackbone autocasts)
    backbone.compute_dtype = 'bfloat16' if settings['dtype'] == 'bf16' else None
    if settings['batch_size'] < 1:
        raise BenchmarkError('--batch-size must be >= 1')
    if settings['dtype'] == 'bf16' and device.type == 'cuda' and not (
            torch.cuda.is_bf16_supported()):
        raise BenchmarkError('this GPU does not support bfloat16')

    report = dict(config=args.config, settings=settings, env=_env(device), model=None,
                  results={})
    status = 0
    if set(args.modes) & {'train', 'infer'}:
        report['model'], report['results'] = bench_model(cfg, args, settings, device)
        status = int(any('error' in r for r in report['results'].values()))
    if 'test' in args.modes:
        report['results']['test'] = bench_test(cfg, args, settings)
        infer = report['results'].get('infer', {}).get('images_per_s')
        if infer:  # the yardstick: the test loop vs the model alone
            report['results']['test']['share_of_infer'] = (
                report['results']['test']['images_per_s'] / infer)
    if 'inferencer' in args.modes:
        report['results']['inferencer'] = bench_inferencer(cfg, args, settings)
    if args.loader:
        report['results']['loader'] = bench_loader(cfg, args, settings)
        report['loader_per_core'] = bench_pipelines(cfg, args)

    print(format_table(report), flush=True)
    if report.get('loader_per_core'):
        print(format_pipelines(report['loader_per_core']), flush=True)
    if args.json:
        os.makedirs(osp.dirname(osp.abspath(args.json)), exist_ok=True)
        with open(args.json, 'w') as f:
            json.dump(report, f, indent=2, default=str)
        print(f'wrote {args.json}')
    return status


if __name__ == '__main__':
    try:
        sys.exit(main())
    except BenchmarkError as exc:
        print(f'error: {exc}', file=sys.stderr)
        sys.exit(2)
