"""Human-Art (Table 4): the config evaluates with ground-truth boxes; the released
detections (x1, y1, x2, y2 boxes) load through HumanArtXYXYDetDataset."""
import json
import os.path as osp

import numpy as np
import pytest
from mmengine.config import Config
from mmengine.registry import DefaultScope
from mmpose.registry import DATASETS
from mmpose.utils import register_all_modules

import genloc_mmpose.datasets  # noqa: F401  (registers HumanArtXYXYDetDataset)
from conftest import REPO, TEST_DATA

register_all_modules(init_default_scope=False)

HUMANART = osp.join(TEST_DATA, 'humanart')
ANN = osp.join(HUMANART, 'test_humanart.json')
DET = osp.join(HUMANART, 'test_humanart_det_AP_H_56.json')
CONFIG = osp.join(REPO, 'configs', 'genloc', 'humanart',
                  'genloc_sd15-lora16_8xb25-14e_coco2humanart-256x192.py')


def _dataset(type, bbox_file=None):
    with DefaultScope.overwrite_default_scope('mmpose'):
        return DATASETS.build(dict(type=type, data_root='', ann_file=ANN, bbox_file=bbox_file,
                                   data_mode='topdown', test_mode=True, pipeline=[]))


def test_released_detections_are_x1y1x2y2():
    """The data itself: read as x, y, w, h, boxes would end outside their images."""
    with open(ANN) as f:
        sizes = {im['id']: (im['width'], im['height']) for im in json.load(f)['images']}
    with open(DET) as f:
        dets = json.load(f)
    beyond = [d for d in dets if d['bbox'][0] + d['bbox'][2] > sizes[d['image_id']][0] + 1]
    assert len(beyond) >= 3


def test_xyxy_detections_load_as_given():
    with open(DET) as f:
        dets = [d for d in json.load(f) if d['category_id'] == 1]
    dataset = _dataset('HumanArtXYXYDetDataset', DET)
    assert len(dataset) == len(dets) == 13
    boxes = np.concatenate([dataset.get_data_info(i)['bbox'] for i in range(len(dataset))])
    np.testing.assert_allclose(boxes, [d['bbox'] for d in dets], atol=1e-3)
    # mmpose's HumanArtDataset reads them as x, y, w, h: every box grows by its corner
    stock = _dataset('HumanArtDataset', DET)
    stock_boxes = np.concatenate([stock.get_data_info(i)['bbox'] for i in range(len(stock))])
    np.testing.assert_allclose(stock_boxes[:, 2:], boxes[:, 2:] + boxes[:, :2], rtol=1e-5)
    # the best detection of the first image covers its ground-truth person
    x, y, w, h = 468.61884, 828.95864, 355.629312, 811.904112  # test_humanart.json
    x1, y1, x2, y2 = boxes[0]
    inter = max(0, min(x2, x + w) - max(x1, x)) * max(0, min(y2, y + h) - max(y1, y))
    assert inter / ((x2 - x1) * (y2 - y1) + w * h - inter) > 0.5


def test_xywh_file_is_refused(tmp_path):
    with open(ANN) as f:
        anns = json.load(f)['annotations']
    xywh = tmp_path / 'det_xywh.json'
    xywh.write_text(json.dumps([dict(image_id=a['image_id'], category_id=1, bbox=a['bbox'],
                                     score=1.0) for a in anns]))
    with pytest.raises(ValueError, match="not x1, y1, x2, y2.*type='HumanArtDataset'"):
        _dataset('HumanArtXYXYDetDataset', str(xywh))


def test_config_uses_ground_truth_boxes():
    cfg = Config.fromfile(CONFIG)
    dataset_cfg = cfg.test_dataloader.dataset
    assert dataset_cfg.type == 'HumanArtDataset' and dataset_cfg.bbox_file is None
    dataset = _dataset(dataset_cfg.type, dataset_cfg.bbox_file)
    with open(ANN) as f:
        anns = json.load(f)['annotations']
    boxes = np.concatenate([dataset.get_data_info(i)['bbox'] for i in range(len(dataset))])
    np.testing.assert_allclose(
        boxes, [[a['bbox'][0], a['bbox'][1], a['bbox'][0] + a['bbox'][2],
                 a['bbox'][1] + a['bbox'][3]] for a in anns], rtol=1e-5)
