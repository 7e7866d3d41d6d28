"""The README's demo: train the tiny GenLoc on the sample images shipped in
demo/data (COCO people, AP-10K animals) on the CPU, evaluate with CocoMetric, and
draw predictions and correlation maps with MMPose's inferencer.

Usage: python tools/demo.py [--work-dir work_dirs/demo]
"""
import argparse
import json
import os.path as osp

from mmengine.config import Config
from mmengine.logging import print_log
from mmengine.runner import Runner

import genloc_mmpose  # noqa: F401

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
TINY = osp.join(REPO, 'configs', 'genloc', 'tiny')
DEMOS = dict(
    coco=(osp.join(TINY, 'genloc_tiny_1xb12-300it_coco-64x48.py'),
          'demo/data/coco/test_coco.json', 785),
    ap10k=(osp.join(TINY, 'genloc_tiny_1xb2-200it_ap10k-64x64.py'),
           'demo/data/ap10k/test_ap10k.json', 37516))


def draw(config, checkpoint, ann_file, image_id, out_dir):
    """Predictions and the fused correlation maps for one sample image, with the
    ground-truth boxes given to the inferencer."""
    from mmpose.apis import MMPoseInferencer
    with open(ann_file) as f:
        coco = json.load(f)
    image = next(i for i in coco['images'] if i['id'] == image_id)
    boxes = [[x, y, x + w, y + h] for x, y, w, h in (
        a['bbox'] for a in coco['annotations']
        if a['image_id'] == image_id and a['num_keypoints'] > 0)]
    inferencer = MMPoseInferencer(pose2d=config, pose2d_weights=checkpoint, device='cpu',
                                  det_model='whole_image')
    img = osp.join(osp.dirname(ann_file), image['file_name'])
    next(inferencer(img, bboxes=boxes, draw_heatmap=True, vis_out_dir=out_dir,
                    kpt_thr=0.2))
    return osp.join(out_dir, image['file_name'])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--work-dir', default=osp.join(REPO, 'work_dirs', 'demo'))
    args = parser.parse_args()
    results = {}
    for name, (config, ann_file, image_id) in DEMOS.items():
        cfg = Config.fromfile(config)
        cfg.work_dir = osp.join(args.work_dir, name)
        runner = Runner.from_cfg(cfg)
        runner.train()
        metrics = runner.test()
        checkpoint = osp.join(cfg.work_dir, f'iter_{cfg.train_cfg.max_iters}.pth')
        picture = draw(config, checkpoint, osp.join(REPO, ann_file), image_id,
                       osp.join(cfg.work_dir, 'vis'))
        results[name] = (metrics['coco/AP'], picture)
    for name, (ap, picture) in results.items():
        print_log(f'{name}: CocoMetric AP {ap:.3f} (train = test sample: an overfit '
                  f'check of the whole chain); predictions and correlation maps: '
                  f'{picture}', logger='current')


if __name__ == '__main__':
    main()
