"""Data loading on the CPU: images/s of the config's train dataloader with its
workers, and crops/s per core of its train and test pipelines, as configured ("new")
and as MMPose's transforms alone run them ("old")."""
import copy
import math
import os
import os.path as osp
import statistics
import tempfile
import time

import cv2
import numpy as np
import torch
from mmengine.dataset import Compose
from mmengine.runner import Runner
from mmpose.registry import DATASETS

from ..datasets.transforms import mmpose_pipeline
from ..resources import shipped
from . import BenchmarkError
from .timing import quiet_logger

# the sample data in demo/data
SAMPLE_DATA = {
    'coco': dict(type='CocoDataset', data_root='demo/data/coco/',
                 ann_file='test_coco.json'),
    'ap10k': dict(type='AP10KDataset', data_root='demo/data/ap10k/',
                  ann_file='test_ap10k.json'),
}
# the test pipeline per core: COCO val images with the usual person detections
DETECTIONS = dict(type='CocoDataset', data_root='demo/data/coco/',
                  ann_file='test_coco.json', bbox_file='test_coco_det_AP_H_56.json')


def _sample_data_name(dataset_type, loader_data):
    """``--loader-data``'s sample data; 'auto': ap10k for AP10KDataset, else coco."""
    if loader_data == 'auto':
        return 'ap10k' if dataset_type == 'AP10KDataset' else 'coco'
    return loader_data


def _loader_cfg(dl_cfg, dataset, times, batch_size, workers):
    """``dl_cfg`` over ``dataset`` repeated ``times``, ``batch_size``, ``workers``."""
    dl_cfg['dataset'] = dict(type='RepeatDataset', times=times, dataset=dataset)
    dl_cfg['batch_size'] = batch_size
    dl_cfg['num_workers'] = workers
    if workers > 0:
        dl_cfg['persistent_workers'] = bool(dl_cfg.get('persistent_workers', False))
    else:
        dl_cfg.pop('persistent_workers', None)
        dl_cfg.pop('prefetch_factor', None)
    return dl_cfg


def _time_loader(loader, warmup, iters):
    """Draw ``warmup`` then ``iters`` batches; returns (images in the timed ones,
    their s, the first batch's s)."""
    t0 = time.perf_counter()
    it = iter(loader)
    first_batch_s = None
    for i in range(warmup):
        next(it)
        if i == 0:
            first_batch_s = time.perf_counter() - t0
    count = 0
    start = time.perf_counter()
    for _ in range(iters):
        batch = next(it)
        count += len(batch['inputs'])
    return count, time.perf_counter() - start, first_batch_s


def bench_loader(cfg, args, settings):
    """Images/s of the config's ``train_dataloader`` (its pipeline, batch size and
    ``settings['workers']``) over the sample data, repeated as needed."""
    dl_cfg = copy.deepcopy(cfg.train_dataloader)
    dl_cfg = dl_cfg.to_dict() if hasattr(dl_cfg, 'to_dict') else dict(dl_cfg)
    dataset = dl_cfg['dataset']
    which = _sample_data_name(dataset.get('type'), args.loader_data)
    sample = SAMPLE_DATA[which]
    dataset.update(type=sample['type'], data_root=shipped(sample['data_root']),
                   ann_file=sample['ann_file'], data_prefix=dict(img=''))
    base_len = len(DATASETS.build(copy.deepcopy(dataset)))
    if base_len == 0:
        raise BenchmarkError(f'no training instances in the {which} sample data')
    workers = settings['workers']
    loader_iters = args.loader_iters or max(args.iters, 4 * max(workers, 1))
    warmup = max(args.warmup, 1)
    needed = (loader_iters + warmup + 2) * settings['batch_size']
    times = math.ceil(needed / base_len)
    loader = Runner.build_dataloader(
        _loader_cfg(dl_cfg, dataset, times, settings['batch_size'], workers),
        seed=args.seed)
    count, total, first_batch_s = _time_loader(loader, warmup, loader_iters)
    return dict(images_per_s=count / total if total > 0 else None, images=count,
                batches=loader_iters, batch_ms_mean=1e3 * total / loader_iters,
                warmup=warmup, time_s=total, first_batch_s=first_batch_s, workers=workers,
                batch_size=settings['batch_size'], sample_data=which,
                dataset_type=dataset['type'], sample_instances=base_len,
                repeat_times=times, cpu_count=os.cpu_count())


def _timed_pipeline(pipeline_cfg):
    """A Compose of ``pipeline_cfg`` whose transforms add their s to ``.spent``
    (by class name, a repeated one with a prime)."""
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


def _data_infos(dataset):
    """The data infos of ``dataset`` (a sample data entry) under the shipped demo/."""
    dataset = dict(dataset, data_prefix=dict(img=''), pipeline=[],
                   data_root=shipped(dataset['data_root']))
    if dataset.get('bbox_file'):
        dataset['bbox_file'] = osp.join(dataset['data_root'], dataset['bbox_file'])
    with quiet_logger():
        infos = DATASETS.build(dataset)
    return [infos.get_data_info(i) for i in range(len(infos))]


def _pipeline_variants(pipeline, cache_dir):
    """{'old', 'new'[, 'cached']: timed Compose}: MMPose's transforms, as configured,
    and with ``decode_cache_dir=cache_dir`` for a deferred decode."""
    configs = dict(old=mmpose_pipeline(pipeline), new=pipeline)
    loader = pipeline[0] if pipeline else {}
    if loader.get('type') == 'GenLocLoadImage' and loader.get('reduced_decode'):
        configs['cached'] = [dict(loader, decode_cache_dir=cache_dir)] + list(pipeline[1:])
    return {key: _timed_pipeline(p) for key, p in configs.items()}


def _run_rounds(variants, infos, passes, rounds, seed):
    """Round 0 (warm-up, fills a decode cache) then ``rounds`` rounds, each variant
    ``passes`` times over ``infos`` in turn with the same random draws; returns (s
    per variant, {variant but 'old': old/variant s per round})."""
    total = dict.fromkeys(variants, 0.0)
    ratios = {key: [] for key in variants if key != 'old'}
    for rnd in range(rounds + 1):
        spent = {}
        for key, compose in variants.items():
            np.random.seed(seed + rnd)
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
    return total, ratios


def _bench_pipeline(data, dataset, pipeline, cache_dir, rounds, seed):
    """Crops/s, ms per crop and per transform of each variant of ``pipeline`` over
    ``dataset`` (at least 64 crops per round), and the speedups over 'old'."""
    infos = _data_infos(dataset)
    passes = math.ceil(64 / len(infos))
    variants = _pipeline_variants(pipeline, cache_dir)
    total, ratios = _run_rounds(variants, infos, passes, rounds, seed)
    crops = passes * len(infos) * rounds
    result = dict(data=data, instances=len(infos), crops=crops, rounds=rounds,
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
    return result


def bench_pipelines(cfg, args):
    """Crops/s per CPU core of the config's training pipeline (on its sample data)
    and test pipeline (on the COCO sample's 118 person detections), as configured
    ("new") and as MMPose's transforms alone run them ("old",
    ``genloc_mmpose.datasets.transforms.mmpose_pipeline``), and for a training
    pipeline with a deferred decode also with ``decode_cache_dir`` ("cached", a
    temporary folder filled in the warm-up round: the epochs after the first). One
    process, one OpenCV/torch thread; the variants alternate round by round with the
    same random draws, so that a busy machine slows all alike: compare the ratios."""
    train_ds = cfg.train_dataloader.dataset
    which = _sample_data_name(train_ds.get('type'), args.loader_data)
    cases = [('train', which, dict(SAMPLE_DATA[which], test_mode=False),
              copy.deepcopy(train_ds.pipeline)),
             ('test', 'coco detections', dict(DETECTIONS, test_mode=True),
              cfg.test_dataloader.dataset.pipeline)]
    rounds = max(args.pipeline_rounds, 1)
    threads = cv2.getNumThreads(), torch.get_num_threads()
    cv2.setNumThreads(1)
    torch.set_num_threads(1)
    out = {}
    try:
        with tempfile.TemporaryDirectory(prefix='genloc_decode_cache_') as tmp:
            for name, data, dataset, pipeline in cases:
                out[name] = _bench_pipeline(data, dataset, pipeline,
                                            osp.join(tmp, name), rounds, args.seed)
    finally:
        cv2.setNumThreads(threads[0])
        torch.set_num_threads(threads[1])
    return out
