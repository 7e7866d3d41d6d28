"""AP10KSubsetDataset: few-shot image lists (Table 5) and family subsets (Table 6),
their evaluation through CocoMetric, and the protocol configs."""
import glob
import hashlib
import json
import logging
import os.path as osp

import cv2
import numpy as np
import pytest
from mmengine.config import Config
from mmengine.logging import MessageHub, MMLogger
from mmengine.structures import InstanceData
from mmengine.registry import DefaultScope
from mmpose.utils import register_all_modules

import genloc_mmpose.datasets  # noqa: F401  (registers AP10KSubsetDataset)
from genloc_mmpose.datasets import AP10KSubsetDataset

register_all_modules(init_default_scope=False)

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
AP10K_CONFIGS = osp.join(REPO, 'configs', 'genloc', 'ap10k')
EVAL_PIPELINE = [
    dict(type='LoadImage'),
    dict(type='GetBBoxCenterScale'),
    dict(type='PackPoseInputs')
]

# (category id, species, family) as in AP-10K
CATEGORIES = [(1, 'antelope', 'Bovidae'), (2, 'argali sheep', 'Bovidae'),
              (7, 'arctic fox', 'Canidae'), (8, 'dog', 'Canidae'),
              (21, 'horse', 'Equidae'), (23, 'bobcat', 'Felidae')]
# image id -> category ids of its instances
IMAGES = {
    1: [1], 2: [1, 1], 3: [2], 4: [7], 5: [8, 8], 6: [7], 7: [21], 8: [23],
    9: [23, 23], 10: [8], 11: [1, 7],  # 11: a Bovidae and a Canidae instance
    12: [21],
}
NO_KEYPOINTS = 3  # annotation id without labelled keypoints (kept in the GT file)


@pytest.fixture(autouse=True)
def _restore_message_hub():
    """Datasets in test mode announce their GT file in the global MessageHub."""
    hub = MessageHub.get_current_instance()
    key = 'ap10k_ann_file'
    before = hub.runtime_info.get(key, hub)
    yield
    if before is hub:
        hub._runtime_info.pop(key, None)
    else:
        hub.update_info(key, before)


@pytest.fixture(autouse=True)
def _mmpose_scope():
    """Build transforms/metrics in mmpose's scope whatever earlier tests set (e.g.
    MMPoseInferencer with an mmdet detector leaves 'mmdet' as the default scope)."""
    with DefaultScope.overwrite_default_scope('mmpose'):
        yield


def _fake_ap10k(tmp_path):
    """An AP-10K-like annotation file (+ images) with a few families."""
    rng = np.random.default_rng(0)
    images, annotations = [], []
    width, height = 80, 60
    for img_id, cats in IMAGES.items():
        file_name = f'{img_id:012d}.jpg'
        cv2.imwrite(str(tmp_path / file_name), np.full((height, width, 3), 127, np.uint8))
        images.append(dict(id=img_id, file_name=file_name, width=width, height=height))
        for cat in cats:
            ann_id = len(annotations) + 1
            x, y = rng.uniform(0, 30), rng.uniform(0, 20)
            w, h = rng.uniform(20, 45), rng.uniform(15, 35)
            kpts = np.stack([rng.uniform(x, x + w, 17), rng.uniform(y, y + h, 17),
                             np.where(rng.random(17) < 0.8, 2, 0)], 1)
            kpts[kpts[:, 2] == 0, :2] = 0
            if ann_id == NO_KEYPOINTS:
                kpts[:] = 0
            annotations.append(dict(
                id=ann_id, image_id=img_id, category_id=cat,
                bbox=[float(x), float(y), float(w), float(h)], area=float(w * h),
                iscrowd=0, num_keypoints=int((kpts[:, 2] > 0).sum()),
                keypoints=kpts.round(2).flatten().tolist()))
    categories = [dict(id=i, name=n, supercategory=f, keypoints=[], skeleton=[])
                  for i, n, f in CATEGORIES]
    path = tmp_path / 'ap10k-fake.json'
    path.write_text(json.dumps(dict(images=images, annotations=annotations,
                                    categories=categories)))
    return str(path), annotations


def _build(ann_file, **kwargs):
    kwargs.setdefault('pipeline', [])
    return AP10KSubsetDataset(ann_file=ann_file, data_root=None,
                              data_prefix=dict(img=osp.dirname(ann_file)), **kwargs)


def _infos(dataset):
    return [dataset.get_data_info(i) for i in range(len(dataset))]


def _family_cats(*families):
    return {i for i, _, f in CATEGORIES if f in families}


def _gt_as_prediction(metric, dataset):
    """Feed every sample of ``dataset`` to ``metric`` with its GT as prediction."""
    for i in range(len(dataset)):
        sample = dataset[i]['data_samples']
        gt = sample.gt_instances
        sample.pred_instances = InstanceData(
            keypoints=gt.keypoints, keypoint_scores=np.ones(gt.keypoints.shape[:2]))
        metric.process([], [sample.to_dict()])
    return metric.evaluate(len(dataset))


def test_img_ids_file_selects_listed_images_once(tmp_path):
    ann_file, anns = _fake_ap10k(tmp_path)
    listed = [2, 5, 5, 9, 11, 11, 3, 999]  # duplicates and an id not in the file
    ids_file = tmp_path / 'annotation_list.json'
    ids_file.write_text(json.dumps(listed))
    dataset = _build(ann_file, img_ids_file=str(ids_file))

    expected = [a for a in anns if a['image_id'] in set(listed)
                and a['num_keypoints'] > 0]
    assert len(dataset) == len(expected) == 8  # each instance once despite repeats
    assert sorted(d['id'] for d in _infos(dataset)) == [a['id'] for a in expected]
    assert {d['img_id'] for d in _infos(dataset)} == {2, 3, 5, 9, 11}
    assert [c['id'] for c in dataset.metainfo['CLASSES']] == [c[0] for c in CATEGORIES]


def test_family_filter_keeps_only_that_family(tmp_path):
    ann_file, anns = _fake_ap10k(tmp_path)
    dataset = _build(ann_file, families=['Canidae'])
    cats = _family_cats('Canidae')
    expected = [a for a in anns if a['category_id'] in cats]
    assert sorted(d['id'] for d in _infos(dataset)) == [a['id'] for a in expected]
    assert {d['img_id'] for d in _infos(dataset)} == {4, 5, 6, 10, 11}
    assert {int(d['category_id']) for d in _infos(dataset)} == cats
    assert {c['id'] for c in dataset.metainfo['CLASSES']} == cats
    # both filters together, and a string family
    ids_file = tmp_path / 'ids.json'
    ids_file.write_text(json.dumps([1, 4, 5, 11]))
    both = _build(ann_file, families='Canidae', img_ids_file=str(ids_file))
    assert {d['img_id'] for d in _infos(both)} == {4, 5, 11}
    assert {int(d['category_id']) for d in _infos(both)} == cats


def test_subset_logs_kept_counts(tmp_path):
    ann_file, _ = _fake_ap10k(tmp_path)
    logger = MMLogger.get_instance(f'test_subset_logs_{id(tmp_path)}',
                                   log_level='INFO')
    records = []
    handler = logging.Handler()
    handler.emit = records.append
    logger.addHandler(handler)
    try:
        _build(ann_file, families=['Felidae', 'Equidae'])
    finally:
        logger.removeHandler(handler)
    messages = [r.getMessage() for r in records]
    assert any('kept 4/12 images and 5/16 instances' in m for m in messages), messages


def test_unknown_family_raises(tmp_path):
    ann_file, _ = _fake_ap10k(tmp_path)
    with pytest.raises(ValueError, match='Unknown AP-10K families'):
        _build(ann_file, families=['Canidea'])


def test_family_evaluation_sees_only_the_family(tmp_path):
    """CocoMetric(ann_file=None) on the family subset: the metric's GT holds exactly
    the family's images/instances, and GT as prediction scores AP 1.0."""
    from mmpose.evaluation import CocoMetric
    ann_file, anns = _fake_ap10k(tmp_path)
    dataset = _build(ann_file, families=['Canidae'], test_mode=True,
                     pipeline=EVAL_PIPELINE)
    metric = CocoMetric(ann_file=None)
    metric.dataset_meta = dataset.metainfo  # what mmengine's ValLoop/TestLoop do
    cats = _family_cats('Canidae')
    assert sorted(metric.coco.getImgIds()) == [4, 5, 6, 10, 11]
    assert sorted(metric.coco.getAnnIds()) == [a['id'] for a in anns
                                               if a['category_id'] in cats]
    assert set(metric.coco.getCatIds()) == cats
    results = _gt_as_prediction(metric, dataset)
    assert results['coco/AP'] == pytest.approx(1.0)
    assert results['coco/AR'] == pytest.approx(1.0)


def test_plain_dataset_would_score_the_whole_file(tmp_path):
    """Why the subset file is needed: with the plain AP10KDataset (as with any
    CocoMetric given the full ann_file), the other families count as misses."""
    from mmpose.datasets import AP10KDataset
    from mmpose.evaluation import CocoMetric
    ann_file, _ = _fake_ap10k(tmp_path)
    full = AP10KDataset(ann_file=ann_file, data_prefix=dict(img=str(tmp_path)),
                        test_mode=True, pipeline=EVAL_PIPELINE)
    metric = CocoMetric(ann_file=None)
    metric.dataset_meta = full.metainfo
    assert len(metric.coco.getImgIds()) == len(IMAGES)
    family = _build(ann_file, families=['Canidae'], test_mode=True,
                    pipeline=EVAL_PIPELINE)
    metric.dataset_meta = family.metainfo  # the metric keeps the full file's GT
    assert _gt_as_prediction(metric, family)['coco/AP'] < 0.9


def test_few_shot_evaluation_on_listed_images(tmp_path):
    from mmpose.evaluation import CocoMetric
    ann_file, anns = _fake_ap10k(tmp_path)
    ids_file = tmp_path / 'ids.json'
    ids_file.write_text(json.dumps([8, 9, 9, 12]))
    dataset = _build(ann_file, img_ids_file=str(ids_file), test_mode=True,
                     pipeline=EVAL_PIPELINE)
    metric = CocoMetric(ann_file=None)
    metric.dataset_meta = dataset.metainfo
    assert sorted(metric.coco.getImgIds()) == [8, 9, 12]
    assert len(metric.coco.getAnnIds()) == 4
    assert _gt_as_prediction(metric, dataset)['coco/AP'] == pytest.approx(1.0)


# ScarceNet's lists (github chaneyddtt/ScarceNet, data/label_list/, MIT), shipped in
# data/ap10k_fewshot unchanged but for the .json suffix: (file, ids, unique ids, SHA-256
# of the upstream file's bytes)
FEWSHOT_LISTS = [
    ('annotation_list_5.json', 250, 249,
     'a3ebb5d5445964b00895bda3b4d4682545bdc433a205e73c0be3763dd2bf874d'),
    ('annotation_list_10.json', 500, 491,
     '331c3c40c9df27e4d3d34d6b8b7d8f718581bdc9103dd2393d29f3b4899a1e51'),
    ('annotation_list_15.json', 750, 750,
     '217bd213cbca013c3f8211d76ecd0260285a05fa467e9be4c1fc41fc03b0f5c8'),
    ('annotation_list_20.json', 1000, 1000,
     '1cd9bbea244151eb3184b833f909a7313102a13d16988ed75378628ef890e8bf'),
    ('annotation_list_25.json', 1247, 1247,
     '96997181ac727cea53316fe91030abe55771de31628ff97ab2ac720d904c5ffc'),
    ('annotation_list_Bovidae.json', 755, 755,
     '5f7da241783d5bbb7cbff6ff7e2f74afea90b277dd7c3d5954ede92367eaf2cd')]


@pytest.mark.parametrize('name,num_ids,num_unique,sha256', FEWSHOT_LISTS)
def test_scarcenet_lists(name, num_ids, num_unique, sha256):
    path = osp.join(REPO, 'data', 'ap10k_fewshot', name)
    with open(path, 'rb') as f:
        raw = f.read()
    assert hashlib.sha256(raw).hexdigest() == sha256  # byte for byte the upstream list
    ids = json.loads(raw)
    assert all(isinstance(i, int) for i in ids)
    assert (len(ids), len(set(ids))) == (num_ids, num_unique)


@pytest.mark.parametrize('shots', [5, 10, 15, 20, 25])
def test_fewshot_configs(shots):
    paths = glob.glob(osp.join(AP10K_CONFIGS, f'*_ap10k-fewshot{shots}-256x256.py'))
    assert len(paths) == 1, paths
    cfg = Config.fromfile(paths[0])
    train = cfg.train_dataloader.dataset
    assert train.type == 'AP10KSubsetDataset'
    assert train.ann_file == 'annotations/ap10k-train-split1.json'
    assert train.img_ids_file == f'data/ap10k_fewshot/annotation_list_{shots}.json'
    assert osp.isfile(osp.join(REPO, train.img_ids_file))
    assert train.get('families') is None
    for split in ('val', 'test'):
        dataset = cfg[f'{split}_dataloader'].dataset
        assert dataset.ann_file == 'annotations/ap10k-val-split1.json'
        assert dataset.type == 'AP10KDataset'
        assert cfg[f'{split}_evaluator'].ann_file.endswith(
            'annotations/ap10k-val-split1.json')
    assert 'genloc_mmpose' in cfg.custom_imports.imports
    assert cfg.model.backbone.lora.r == 16
    assert f'{cfg.train_cfg.max_epochs}e' in osp.basename(paths[0])


TRANSFER_PAIRS = [('Bovidae', 'Canidae'), ('Bovidae', 'Equidae'), ('Bovidae', 'Felidae'),
                  ('Canidae', 'Felidae'), ('Canidae', 'Cricetidae'),
                  ('Canidae', 'Equidae')]


@pytest.mark.parametrize('source,target', TRANSFER_PAIRS)
def test_family_transfer_configs(source, target):
    paths = glob.glob(osp.join(
        AP10K_CONFIGS, f'*_ap10k-{source.lower()}2{target.lower()}-256x256.py'))
    assert len(paths) == 1, paths
    cfg = Config.fromfile(paths[0])
    train = cfg.train_dataloader.dataset
    assert train.type == 'AP10KSubsetDataset' and train.families == [source]
    assert train.ann_file == 'annotations/ap10k-train-split1.json'
    for split in ('val', 'test'):
        dataset = cfg[f'{split}_dataloader'].dataset
        assert dataset.type == 'AP10KSubsetDataset'
        assert dataset.families == [target] and dataset.test_mode
        assert dataset.ann_file == f'annotations/ap10k-{split}-split1.json'
        # GT from the target-family subset, not from the full file
        assert cfg[f'{split}_evaluator'].ann_file is None
    assert f'{cfg.train_cfg.max_epochs}e' in osp.basename(paths[0])


ABLATIONS = {  # Table 1 rows: config suffix -> expected overrides
    '': dict(map_mode='ckhe', loss='HeatmapExpectationLoss', lora=True, t=None),
    '_ablation-crossattn-mse': dict(map_mode='cross_attention', loss='KeypointMSELoss',
                                    lora=True, t=None),
    '_ablation-crossattn': dict(map_mode='cross_attention', loss='HeatmapExpectationLoss',
                                lora=True, t=None),
    '_ablation-mse': dict(map_mode='ckhe', loss='KeypointMSELoss', lora=True, t=None),
    '_ablation-condonly': dict(map_mode='ckhe', loss='HeatmapExpectationLoss',
                               lora=False, t=None),
    '_ablation-t601': dict(map_mode='ckhe', loss='HeatmapExpectationLoss', lora=True,
                           t=601),
    '_ablation-t21': dict(map_mode='ckhe', loss='HeatmapExpectationLoss', lora=True,
                          t=21),
}


@pytest.mark.parametrize('suffix', list(ABLATIONS))
def test_ablation_configs(suffix):
    path = osp.join(AP10K_CONFIGS,
                    f'genloc_sd15-lora16_8xb25-10e_ap10k-256x256{suffix}.py')
    cfg = Config.fromfile(path)
    want = ABLATIONS[suffix]
    assert cfg.train_cfg.max_epochs == 10
    assert cfg.model.backbone.map_mode == want['map_mode']
    assert cfg.model.head.loss.type == want['loss']
    assert cfg.model.head.loss.use_target_weight
    assert (cfg.model.backbone.lora is not None) == want['lora']
    assert cfg.model.backbone.noise_timestep == want['t']
    assert cfg.train_dataloader.dataset.ann_file == 'annotations/ap10k-train-split1.json'


def test_family_transfer_config_wiring(tmp_path):
    """The Bovidae->Canidae config's datasets and evaluator, on the fake file: train
    sees Bovidae only, evaluation scores Canidae only (GT as prediction: AP 1.0)."""
    from mmpose.registry import DATASETS, METRICS
    ann_file, anns = _fake_ap10k(tmp_path)
    cfg = Config.fromfile(glob.glob(osp.join(
        AP10K_CONFIGS, '*_ap10k-bovidae2canidae-256x256.py'))[0])
    paths = dict(data_root=None, ann_file=ann_file, data_prefix=dict(img=str(tmp_path)))
    train = DATASETS.build(dict(cfg.train_dataloader.dataset, pipeline=[], **paths))
    assert {int(d['category_id']) for d in _infos(train)} == _family_cats('Bovidae')
    val = DATASETS.build(dict(cfg.val_dataloader.dataset, pipeline=EVAL_PIPELINE,
                              **paths))
    metric = METRICS.build(cfg.val_evaluator)
    metric.dataset_meta = val.metainfo
    assert sorted(metric.coco.getImgIds()) == [4, 5, 6, 10, 11]
    assert _gt_as_prediction(metric, val)['coco/AP'] == pytest.approx(1.0)
