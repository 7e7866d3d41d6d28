"""The procedural keypoint benchmark: determinism, flip-consistent metainfo, and the
round trip through MMPose's CocoDataset, pipelines and CocoMetric."""
import glob
import hashlib
import json
import os.path as osp

import cv2
import numpy as np
import pytest
from mmengine.config import Config
from mmengine.structures import InstanceData
from mmengine.registry import DefaultScope
from mmpose.utils import register_all_modules

from genloc_mmpose.synthetic import markers as gen

register_all_modules(init_default_scope=False)

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
SYNTH_CONFIGS = osp.join(REPO, 'configs', 'genloc', 'synthetic')
METAINFO = osp.join(SYNTH_CONFIGS, '_base_', 'datasets', 'synthetic_markers.py')
EVAL_PIPELINE = [
    dict(type='LoadImage'),
    dict(type='GetBBoxCenterScale'),
    dict(type='PackPoseInputs')
]


@pytest.fixture(autouse=True)
def _mmpose_scope():
    """Build transforms/metrics in mmpose's scope whatever earlier tests set (e.g.
    MMPoseInferencer with an mmdet detector leaves 'mmdet' as the default scope)."""
    with DefaultScope.overwrite_default_scope('mmpose'):
        yield


def _digest(folder):
    """sha1 of every file under folder, by relative path."""
    out = {}
    for path in sorted(glob.glob(osp.join(folder, '**', '*'), recursive=True)):
        if osp.isfile(path):
            with open(path, 'rb') as f:
                out[osp.relpath(path, folder)] = hashlib.sha1(f.read()).hexdigest()
    return out


@pytest.fixture(scope='module')
def synth(tmp_path_factory):
    """A small dataset: 10 train and 6 test images."""
    out = str(tmp_path_factory.mktemp('synthetic'))
    coco = {split: gen.make_split(out, split, num, seed=3)
            for split, num in (('train', 10), ('test', 6))}
    return out, coco


def test_generator_is_deterministic(synth, tmp_path):
    out, coco = synth
    again = str(tmp_path / 'again')
    for split, num in (('train', 10), ('test', 6)):
        gen.make_split(again, split, num, seed=3)
    assert _digest(out) == _digest(again)  # same bytes, images and annotations
    other = str(tmp_path / 'other')
    gen.make_split(other, 'train', 10, seed=4)
    assert (_digest(other)['images/train_000000.png']
            != _digest(out)['images/train_000000.png'])


def test_test_split_is_unseen(synth):
    out, coco = synth
    digests = _digest(out)
    train = {v for k, v in digests.items() if k.startswith('images/train_')}
    test = {v for k, v in digests.items() if k.startswith('images/test_')}
    assert len(train) == 10 and len(test) == 6 and not train & test
    ids = [{img['id'] for img in coco[s]['images']} for s in ('train', 'test')]
    assert not ids[0] & ids[1]


def test_annotations_are_coco_keypoints(synth):
    out, coco = synth
    meta = gen.load_metainfo(METAINFO)
    num = len(meta['names'])
    for split in ('train', 'test'):
        data = coco[split]
        with open(osp.join(out, 'annotations', f'synthetic_{split}.json')) as f:
            assert json.load(f) == data
        cat, = data['categories']
        assert cat['keypoints'] == meta['names'] and len(cat['skeleton']) == 8
        assert min(min(link) for link in cat['skeleton']) == 1  # 1-based like COCO
        ann_ids = [a['id'] for a in data['annotations']]
        assert len(set(ann_ids)) == len(ann_ids)
        for ann in data['annotations']:
            kpts = np.array(ann['keypoints']).reshape(num, 3)
            assert set(kpts[:, 2]) <= {0, 2}
            assert ann['num_keypoints'] == (kpts[:, 2] > 0).sum()
            assert np.all(kpts[kpts[:, 2] == 0, :2] == 0)
            x, y, w, h = ann['bbox']
            vis = kpts[kpts[:, 2] > 0, :2]
            assert np.all((vis >= [x, y]) & (vis <= [x + w, y + h]))
            assert ann['area'] > 0 and ann['iscrowd'] == 0
            assert {'keypoints', 'num_keypoints', 'bbox', 'area', 'iscrowd',
                    'category_id', 'image_id', 'id'} <= set(ann)


def test_markers_sit_on_their_keypoints(synth):
    """Each labelled keypoint lies on a marker of its keypoint's colour."""
    out, coco = synth
    meta = gen.load_metainfo(METAINFO)
    hits = total = 0
    for split in ('train', 'test'):
        files = {img['id']: img['file_name'] for img in coco[split]['images']}
        for ann in coco[split]['annotations']:
            img = cv2.imread(osp.join(out, 'images', files[ann['image_id']]))
            kpts = np.array(ann['keypoints']).reshape(-1, 3)
            for k, (x, y, v) in enumerate(kpts):
                if v:
                    bgr = img[int(round(y)), int(round(x))].astype(int)
                    want = np.array(gen.color(meta['names'][k]))[::-1]
                    hits += np.abs(bgr - want).max() <= 60
                    total += 1
    assert total > 50 and hits / total > 0.95


def _raster(poly, size=101):
    img = np.zeros((size, size), np.uint8)
    pts = np.round((poly * 40 + size // 2) * 16).astype(np.int32)
    cv2.fillPoly(img, [pts], 1, cv2.LINE_8, shift=4)
    return img.astype(bool)


def test_flip_indices_match_mirrored_glyphs():
    """A horizontally flipped marker k looks like marker flip_indices[k] (and like
    no other marker): the metainfo's `swap` is what the drawing does."""
    from mmpose.datasets.datasets.utils import parse_pose_metainfo
    meta = gen.load_metainfo(METAINFO)
    parsed = parse_pose_metainfo(dict(from_file=METAINFO))
    assert parsed['flip_indices'] == meta['flip_indices'] == [0, 1, 2, 4, 3, 6, 5, 8, 7]
    names = meta['names']
    rasters = [_raster(gen.glyph(n)) for n in names]
    for k, name in enumerate(names):
        mirrored = rasters[k][:, ::-1]
        iou = [(mirrored & r).sum() / (mirrored | r).sum() for r in rasters]
        assert int(np.argmax(iou)) == meta['flip_indices'][k], (name, iou)
        assert max(iou) > 0.95
        assert gen.color(name) == gen.color(names[meta['flip_indices'][k]])
        if meta['flip_indices'][k] != k:  # a chiral marker is not its own mirror
            assert iou[k] < 0.8


def test_round_trip_coco_dataset_and_metric(synth):
    """mmpose CocoDataset with the metainfo file reads every instance; CocoMetric
    with GT as prediction scores AP 1.0."""
    from mmpose.datasets import CocoDataset
    from mmpose.evaluation import CocoMetric
    out, coco = synth
    ann_file = osp.join(out, 'annotations', 'synthetic_test.json')
    dataset = CocoDataset(
        ann_file=ann_file, metainfo=dict(from_file=METAINFO),
        data_prefix=dict(img=osp.join(out, 'images')), test_mode=True,
        pipeline=EVAL_PIPELINE)
    assert dataset.metainfo['dataset_name'] == 'synthetic_markers'
    assert dataset.metainfo['num_keypoints'] == 9
    assert dataset.metainfo['flip_indices'] == [0, 1, 2, 4, 3, 6, 5, 8, 7]
    anns = coco['test']['annotations']
    assert len(dataset) == sum(a['num_keypoints'] > 0 for a in anns)
    metric = CocoMetric(ann_file=ann_file)
    metric.dataset_meta = dataset.metainfo
    for i in range(len(dataset)):
        sample = dataset[i]['data_samples']
        gt = sample.gt_instances
        sample.pred_instances = InstanceData(
            keypoints=gt.keypoints, keypoint_scores=np.ones(gt.keypoints.shape[:2]))
        metric.process([], [sample.to_dict()])
    results = metric.evaluate(len(dataset))
    assert results['coco/AP'] == pytest.approx(1.0)
    assert results['coco/AR'] == pytest.approx(1.0)


VARIANTS = {  # config suffix -> (map_mode, loss, lora)
    '': ('ckhe', 'HeatmapExpectationLoss', True),
    '_crossattn': ('cross_attention', 'HeatmapExpectationLoss', True),
    '_mse': ('ckhe', 'KeypointMSELoss', True),
    '_condonly': ('ckhe', 'HeatmapExpectationLoss', False),
    '_crossattn-mse': ('cross_attention', 'KeypointMSELoss', True),
}


def _base_config():
    paths = sorted(glob.glob(osp.join(SYNTH_CONFIGS, 'genloc_tiny_*_synthetic-64x64.py')))
    assert len(paths) == 1, paths
    return paths[0]


@pytest.mark.parametrize('suffix', list(VARIANTS))
def test_synthetic_configs(suffix):
    cfg = Config.fromfile(_base_config().replace('.py', f'{suffix}.py'))
    map_mode, loss, lora = VARIANTS[suffix]
    assert cfg.model.backbone.get('map_mode', 'ckhe') == map_mode  # ckhe: default
    assert cfg.model.head.loss.type == loss
    assert (cfg.model.backbone.lora is not None) == lora
    assert cfg.model.backbone.pretrained is None  # the tiny random U-Net
    assert cfg.model.backbone.num_keypoints == 9
    assert cfg.train_dataloader.dataset.ann_file == 'annotations/synthetic_train.json'
    assert cfg.test_dataloader.dataset.ann_file == 'annotations/synthetic_test.json'
    assert cfg.test_evaluator.ann_file.endswith('annotations/synthetic_test.json')
    assert osp.samefile(cfg.train_dataloader.dataset.metainfo.from_file, METAINFO)


def test_synthetic_train_pipeline_runs(synth):
    """The config's training pipeline on the generated data gives 9 target maps."""
    from mmpose.registry import DATASETS
    out, _ = synth
    cfg = Config.fromfile(_base_config())
    dataset = DATASETS.build(dict(cfg.train_dataloader.dataset, data_root=out))
    sample = dataset[0]
    width, height = cfg.codec.input_size
    assert tuple(sample['inputs'].shape) == (3, height, width)
    heatmaps = sample['data_samples'].gt_fields.heatmaps
    assert tuple(heatmaps.shape) == (9, ) + tuple(cfg.codec.heatmap_size[::-1])


def test_ablation_trains_and_tests_each_variant_in_process(tmp_path):
    """``tools/misc/synthetic_ablation.py``'s runner on a small marker set: the
    variant's own config is trained (no LoRA: no LoRA weights in its
    checkpoint), validated on the seen images and tested on the held-out ones, from
    the given data folder; the table shows the results' numbers."""
    import torch

    from genloc_mmpose.synthetic import ablation
    data = tmp_path / 'data'
    gen.write_dataset(str(data), seed=1, num_train=8, num_test=4, num_seen=4)
    options = {'train_cfg.max_iters': 3, 'train_cfg.val_interval': 3,
               'default_hooks.checkpoint.interval': 3, 'train_dataloader.batch_size': 4,
               'val_evaluator.ann_file': 'annotations/synthetic_train-seen4.json',
               'val_dataloader.dataset.ann_file': 'annotations/synthetic_train-seen4.json'}
    results = ablation.run(str(tmp_path / 'work'), str(data), ['condonly'], options)
    r = results['condonly']
    assert r['checkpoint'] == str(tmp_path / 'work' / 'condonly' / 'iter_3.pth')
    state = torch.load(r['checkpoint'], weights_only=True)['state_dict']
    assert 'backbone.conditions' in state and not any('lora' in k for k in state)
    assert 0 <= r['test']['AP'] <= 1 and 0 <= r['seen']['AP'] <= 1
    assert r['final_train_loss'] > 0
    with open(tmp_path / 'work' / 'results.md') as f:
        row, = f.read().splitlines()[2:]
    assert row.split(' | ')[2] == f"{r['test']['AP']:.3f}" and 'no LoRA' in row
