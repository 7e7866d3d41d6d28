"""The README's demo (``make demo``, tools/demo.py): GenLoc few-shot on the shipped
miniature Stable Diffusion (demo/mini-sd), beside the same architecture with random
frozen weights and beside MMPose's own heatmap model trained from scratch, on creatures
none has seen.

1. **Names alone**: conditions made from the 18 keypoint names by the prior's text
   encoder (``condition_init='text'``), no training, tested on the held-out creatures.
2. **Few-shot**: ``labels`` labelled creatures (the world's ``'val'`` split), the
   creature config's budget (its ``max_iters``, chosen from the learning curves of
   docs/experiments.md), three ways: GenLoc's recipe (configs/genloc/creatures: LoRA
   r=16 + conditions, CKHE + HEL) on the prior, the same on random frozen weights,
   and MMPose's ResNet-18 heatmap model from scratch (same images, seed, pipeline and
   iterations); each tested on the held-out creatures (``'test'`` split): PCK@0.1 of
   the box and the mean pixel error (EPE).
3. **A picture**: the models' keypoints and skeletons, and GenLoc's fused correlation
   maps, on a few test creatures, drawn by MMPose's visualizer.

The runs are :func:`genloc_mmpose.mini_sd.experiments.run` (cached: a second call with
the same prior and settings reuses them). The prior's model is also left as
``work_dirs/demo/genloc_demo.{py,pth}``, the model the browser app serves (its text
encoder makes the app's By name tab work), with its keypoint-score threshold chosen on
held-out validation creatures (:func:`genloc_mmpose.evaluation.calibrate_score_threshold`).
"""
import argparse
import json
import os
import os.path as osp
import shutil
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from typing import Dict, Optional, Sequence, Tuple

import numpy as np

from ..evaluation import calibrate_score_threshold
from ..resources import DEMO_WORK_DIR, MINI_SD
from . import experiments

LABELS, TEST_IMAGES, SEED = 25, 100, 0
VARIANTS = (('text', 'GenLoc, names alone (no training)', 0),
            ('prior', 'GenLoc on the mini-SD prior', None),
            ('no-prior', 'GenLoc on random weights', None),
            ('peer', "MMPose's ResNet-18, from scratch", None))


def run(work_dir: str, labels: int = LABELS, iters: Optional[int] = None,
        test_images: int = TEST_IMAGES, seed: int = SEED, sd: str = MINI_SD,
        show: int = 4) -> Dict[str, dict]:
    """The runs of the module docstring (``iters``: None for the creature config's
    budget): variant -> result of :func:`experiments.run` (with ``'title'``), plus
    ``'picture'``: the path of the predictions-and-maps picture of ``show`` test
    creatures, and ``'score_thr'``: the app model's calibration."""
    jobs = [dict(work_dir=work_dir, variant=variant, seed=seed, sd=sd,
                 test_images=test_images, labels=None if variant_iters == 0 else labels,
                 iters=iters if variant_iters is None else variant_iters)
            for variant, _, variant_iters in VARIANTS]
    # the trainings two at a time, each on half the cores (on 2 cores 1.5x faster
    # than one after the other with 2 threads each). The new processes start first and
    # import GenLoc while the data is written here (once: no two processes write it);
    # names alone runs here while they train.
    workers = 2 if (os.cpu_count() or 1) >= 2 else 1
    threads = max(1, (os.cpu_count() or 1) // workers)
    with ProcessPoolExecutor(workers, mp_context=get_context('spawn'),
                             initializer=_start_worker, initargs=(threads, )) as pool:
        for _ in range(workers):  # a process is started per task that finds none idle
            pool.submit(int)
        experiments.prepare_data(osp.join(work_dir, 'data'))
        trainings = [pool.submit(experiments.run, **job) for job in jobs[1:]]
        done = [_run_here(jobs[0], threads)] + [job.result() for job in trainings]
    results = {variant: dict(result, title=title)
               for (variant, title, _), result in zip(VARIANTS, done)}
    root = osp.join(work_dir, 'data')
    picture = osp.join(work_dir, 'creatures_predictions_and_maps.jpg')
    draw({results[v]['title']: (results[v]['config'], results[v]['checkpoint'])
          for v in ('prior', 'no-prior', 'peer')}, root, show, picture)
    results['picture'] = picture
    results['score_thr'] = app_model(results['prior'], work_dir)
    return results


def app_model(prior: dict, work_dir: str) -> Dict[str, float]:
    """Leave the prior's run (a result of :func:`experiments.run` under ``work_dir``)
    as the app's model, ``genloc_demo.{py,pth}`` one folder above ``work_dir``, with
    its keypoint-score threshold chosen on the validation creatures (stored in the
    checkpoint). Returns :func:`calibrate_score_threshold`'s values."""
    app_dir = osp.dirname(osp.abspath(work_dir))  # work_dirs/demo
    config = osp.join(app_dir, 'genloc_demo.py')
    checkpoint = osp.join(app_dir, 'genloc_demo.pth')
    shutil.copy(prior['config'], config)
    shutil.copy(prior['checkpoint'], checkpoint)
    return calibrate_score_threshold(
        config, checkpoint, ann_file=experiments.validation_ann(osp.join(work_dir, 'data')),
        work_dir=osp.join(work_dir, 'score_threshold'))


def _start_worker(threads: int) -> None:
    """A spawned process: ``threads`` torch threads, GenLoc registered."""
    import torch

    import genloc_mmpose  # noqa: F401
    torch.set_num_threads(threads)


def _run_here(job: dict, threads: int) -> dict:
    """:func:`experiments.run` in this process with ``threads`` torch threads."""
    import torch
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        return experiments.run(**job)
    finally:
        torch.set_num_threads(before)


def table(results: Dict[str, dict]) -> str:
    """The demo's printout: one line per run."""
    lines = [f'{"":34s} {"labels":>6s} {"iters":>5s} {"PCK@0.1":>8s} {"EPE px":>7s}']
    for variant, _, _ in VARIANTS:
        r = results[variant]
        lines.append(f'{r["title"]:34s} {r["labels"] or 0:6d} {r["iters"]:5d} '
                     f'{r["PCK"]:8.3f} {r["EPE"]:7.2f}')
    return '\n'.join(lines)


def draw(models: Dict[str, Tuple[str, str]], data_root: str, num: int, out_file: str,
         scale: int = 4) -> str:
    """One row per model (title -> (config, checkpoint)): for the first ``num`` test
    creatures, the predicted keypoints and skeleton over the image and the fused
    correlation maps below it (MMPose's visualizer, as its image demo draws them),
    ``scale`` times enlarged; saved as ``out_file``."""
    import cv2
    import mmcv
    from mmpose.apis import inference_topdown, init_model
    from mmpose.registry import VISUALIZERS
    from mmpose.structures import merge_data_samples
    with open(osp.join(data_root, 'annotations', 'creatures_test.json')) as f:
        coco = json.load(f)
    images = coco['images'][:num]
    boxes = {a['image_id']: a['bbox'] for a in coco['annotations']}
    rows = []
    for title, (config, checkpoint) in models.items():
        model = init_model(config, checkpoint, device='cpu')
        model.test_cfg['output_heatmaps'] = True  # the fused correlation maps
        visualizer = VISUALIZERS.build(dict(model.cfg.visualizer, name=f'demo {title}',
                                            radius=2, line_width=1))
        visualizer.set_dataset_meta(model.dataset_meta)
        tiles = []
        for image in images:
            path = osp.join(data_root, 'images', image['file_name'])
            x, y, w, h = boxes[image['id']]
            box = np.array([[x, y, x + w, y + h]], dtype=np.float32)
            sample = merge_data_samples(inference_topdown(model, path, bboxes=box))
            sample.pred_instances.keypoints = sample.pred_instances.keypoints * scale
            sample.pred_instances.bboxes = sample.pred_instances.bboxes * scale
            img = mmcv.imrescale(mmcv.imread(path, channel_order='rgb'), scale,
                                 interpolation='nearest')
            tiles.append(visualizer.add_datasample(
                title, img, sample, draw_gt=False, draw_heatmap=True, draw_bbox=True,
                kpt_thr=0.0, show=False))
        row = np.concatenate([np.pad(t, ((0, 0), (0, 4), (0, 0)), constant_values=255)
                              for t in tiles], 1)
        banner = np.full((28, row.shape[1], 3), 255, np.uint8)
        cv2.putText(banner, title, (6, 20), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (0, 0, 0), 1,
                    cv2.LINE_AA)
        rows.append(np.concatenate([banner, row], 0))
    mmcv.imwrite(np.concatenate(rows, 0)[..., ::-1], out_file)
    return out_file


def main(work_dir: str, **kwargs) -> Dict[str, dict]:
    """:func:`run` (``kwargs``: its settings), then print the table and where the
    picture is (MMEngine's logger)."""
    from mmengine.logging import print_log
    results = run(work_dir, **kwargs)
    r = results['prior']
    print_log(
        f'GenLoc few-shot on the miniature SD ({r["inputs"]["sd"]}): {r["labels"]} '
        'labelled creatures, '
        f'{r["iters"]} iterations, tested on {r["test_images"]} held-out creatures '
        '(never seen by the prior or by GenLoc):\n' + table(results) + '\n'
        'PCK@0.1: keypoints within 10 % of the box (~4 px); EPE: mean error in pixels '
        'of the 64-px image.\n'
        f'Predictions and correlation maps: {results["picture"]}\n'
        f'The prior\'s model (the browser app\'s): {osp.dirname(osp.abspath(work_dir))}'
        f'/genloc_demo.{{py,pth}}, keypoint-score threshold '
        f'{results["score_thr"]["score_thr"]:.3f} (chosen on held-out validation creatures)',
        logger='current')
    return results


def cli(argv: Optional[Sequence[str]] = None) -> None:
    """``genloc-demo [--work-dir DIR] [--sd FOLDER] [--labels N] [--iters N]
    [--test-images N] [--seed S]`` (``make demo``, ``python tools/demo.py``)."""
    parser = argparse.ArgumentParser(
        prog='genloc-demo', description='GenLoc few-shot on the shipped miniature Stable '
        'Diffusion beside random weights and MMPose\'s from-scratch model (README "The '
        'two commands").')
    parser.add_argument('--work-dir', default=osp.join(DEMO_WORK_DIR, 'creatures'),
                        help='runs and data; the app\'s model is left one folder up')
    parser.add_argument('--sd', default=MINI_SD,
                        help='the prior: a Stable Diffusion folder (diffusers layout)')
    parser.add_argument('--labels', type=int, default=LABELS)
    parser.add_argument('--iters', type=int,
                        help="training iterations (default: the creature config's budget)")
    parser.add_argument('--test-images', type=int, default=TEST_IMAGES)
    parser.add_argument('--seed', type=int, default=SEED)
    args = parser.parse_args(argv)
    main(args.work_dir, sd=args.sd, labels=args.labels, iters=args.iters,
         test_images=args.test_images, seed=args.seed)
