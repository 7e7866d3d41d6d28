"""The whole test loop as tools/test.py runs it (``Runner.test()``: the config's test
dataloader, model, decode, metric) over generated images."""
import contextlib
import copy
import io
import json
import os.path as osp
import tempfile
import time

import cv2
import numpy as np
import torch
from mmengine.hooks import Hook
from mmengine.runner import Runner
from mmpose.datasets.datasets.utils import parse_pose_metainfo
from mmpose.registry import DATASETS

from ..synthetic.markers import load_metainfo, make_image
from .timing import max_rss_mb, quiet_logger, sync


def synthetic_test_data(cfg, out_dir, num_images, input_size, seed):
    """Generated images (one creature each, genloc_mmpose/synthetic/markers.py)
    at the input size (W, H), annotated with the config's K keypoints (the
    creature's, repeated): a COCO json for the config's own dataset class and
    metric. Returns (its path, the number of instances)."""
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


class _Clock(Hook):
    """``marks``: perf_counter s at the epoch's start, after each iteration (device
    synchronised) and at its end (after the metric)."""

    def __init__(self, device):
        self.device = device
        self.marks = []

    def before_test_epoch(self, runner):
        self.marks.append(time.perf_counter())

    def after_test_iter(self, runner, batch_idx, data_batch=None, outputs=None):
        sync(self.device)
        self.marks.append(time.perf_counter())

    def after_test_epoch(self, runner, metrics=None):
        self.marks.append(time.perf_counter())


def _test_cfg(cfg, data_root, ann_file, batch_size, workers):
    """A copy of ``cfg`` whose test loop reads ``ann_file`` (dataset and metric)."""
    cfg = copy.deepcopy(cfg)
    loader = cfg.test_dataloader
    loader.batch_size = batch_size
    loader.num_workers = workers
    if not loader.num_workers:
        loader.pop('persistent_workers', None)
    loader.dataset.update(data_root=data_root, ann_file=ann_file,
                          data_prefix=dict(img=''), bbox_file=None)
    evaluator = cfg.test_evaluator
    for metric in evaluator if isinstance(evaluator, list) else [evaluator]:
        if 'ann_file' in metric:
            metric['ann_file'] = ann_file
    cfg.work_dir = osp.join(data_root, 'work_dir')
    cfg.load_from = None
    cfg.log_level = 'WARNING'
    return cfg


def bench_test(cfg, args, settings):
    """Runner.test() of the config over generated data: img/s of the whole loop
    after the warm-up iterations (compile, worker start), end to end, the metric's
    s and its COCO AP."""
    batch_size = settings['batch_size']
    num_images = args.test_images or (args.warmup + args.iters) * batch_size
    with tempfile.TemporaryDirectory() as tmp:
        ann_file, num_instances = synthetic_test_data(
            cfg, tmp, num_images, settings['input_size'], args.seed)
        with quiet_logger():
            runner = Runner.from_cfg(
                _test_cfg(cfg, tmp, ann_file, batch_size, settings['workers']))
        clock = _Clock(torch.device(settings['device']))
        runner.register_hook(clock, priority='VERY_LOW')
        start = time.perf_counter()
        with contextlib.redirect_stdout(io.StringIO()):  # pycocotools' tables
            metrics = runner.test()
        total = time.perf_counter() - start
    marks = clock.marks
    iters = len(marks) - 2
    warmup = min(args.warmup, iters - 1)
    # steady state: the iterations after the warm-up ones
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
        peak_rss_mb=max_rss_mb(), peak_rss_delta_mb=None)
