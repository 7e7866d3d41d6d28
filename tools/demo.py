"""The README's demo: train the tiny GenLoc on the sample images shipped in
demo/data (COCO people, AP-10K animals) on the CPU, evaluate with CocoMetric, and
draw predictions and correlation maps with MMPose's visualizer. The COCO model is
also left as work_dirs/demo/genloc_demo.{py,pth}, the model tools/app.py serves.

Usage: python tools/demo.py [--work-dir work_dirs/demo]
"""
import argparse
import json
import os.path as osp
import shutil
import warnings

# mmengine 0.10 imports pkg_resources (hence setuptools<81): understood, harmless.
warnings.filterwarnings('ignore', 'pkg_resources is deprecated', UserWarning)

import numpy as np  # noqa: E402
from mmengine.config import Config  # noqa: E402
from mmengine.logging import print_log  # noqa: E402
from mmengine.runner import Runner  # noqa: E402

import genloc_mmpose  # noqa: F401,E402
from genloc_mmpose.app import DEMO_CONFIG  # noqa: E402

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
TINY = osp.join(REPO, 'configs', 'genloc', 'tiny')
DEMO_DIR = osp.dirname(DEMO_CONFIG)  # work_dirs/demo
DEMOS = dict(
    coco=(osp.join(TINY, 'genloc_tiny_1xb12-300it_coco-128x96.py'),
          'demo/data/coco/test_coco.json', 785),
    ap10k=(osp.join(TINY, 'genloc_tiny_1xb2-150it_ap10k-128x128.py'),
           'demo/data/ap10k/test_ap10k.json', 37516))


def draw(config, checkpoint, ann_file, image_id, out_file):
    """Predictions and the fused correlation maps of one sample image, for its
    ground-truth boxes, drawn by MMPose's visualizer (as mmpose's image demo)."""
    import mmcv
    from mmpose.apis import inference_topdown, init_model
    from mmpose.registry import VISUALIZERS
    from mmpose.structures import merge_data_samples
    with open(ann_file) as f:
        coco = json.load(f)
    image = next(i for i in coco['images'] if i['id'] == image_id)
    boxes = np.array([[x, y, x + w, y + h] for x, y, w, h in (
        a['bbox'] for a in coco['annotations']
        if a['image_id'] == image_id and a['num_keypoints'] > 0)])
    model = init_model(config, checkpoint, device='cpu')
    model.test_cfg['output_heatmaps'] = True  # the fused correlation maps
    img = osp.join(osp.dirname(ann_file), image['file_name'])
    result = merge_data_samples(inference_topdown(model, img, bboxes=boxes))
    visualizer = VISUALIZERS.build(model.cfg.visualizer)
    visualizer.set_dataset_meta(model.dataset_meta)
    visualizer.add_datasample('result', mmcv.imread(img, channel_order='rgb'), result,
                              draw_gt=False, draw_heatmap=True, draw_bbox=True,
                              kpt_thr=0.2, show=False, out_file=out_file)
    return out_file


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--work-dir', default=DEMO_DIR)
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
                       osp.join(cfg.work_dir, f'{name}_predictions_and_maps.jpg'))
        results[name] = (metrics['coco/AP'], picture)
        if name == 'coco':  # the app's default model (tools/app.py)
            cfg.dump(osp.join(args.work_dir, 'genloc_demo.py'))
            shutil.copy(checkpoint, osp.join(args.work_dir, 'genloc_demo.pth'))
    for name, (ap, picture) in results.items():
        print_log(f'{name}: CocoMetric AP {ap:.3f} (train = test sample: an overfit '
                  f'check of the whole chain); predictions and correlation maps: '
                  f'{picture}', logger='current')


if __name__ == '__main__':
    main()
