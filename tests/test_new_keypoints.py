"""tools/new_keypoints.py: MMPose metainfo and a GenLoc config from COCO-keypoints
exports; checked against MMPose's own metainfo of the sample datasets, and end to end
(new_keypoints.py -> train -> test -> MMPoseInferencer)."""
import copy
import json
import os.path as osp
import runpy
import sys

import numpy as np
import pytest
import torch
from mmengine.config import Config

from conftest import REPO, TEST_DATA, TINY_CONFIG

SAMPLES = dict(  # sample export -> MMPose metainfo of that dataset
    animalpose=('animalpose/test_animalpose.json', 'animalpose'),
    crowdpose=('crowdpose/test_crowdpose.json', 'crowdpose'),
    ap10k=('ap10k/test_ap10k.json', 'ap10k'),
    coco=('coco/test_coco.json', 'coco'))


def mmpose_meta(dataset):
    from mmpose.datasets.datasets.utils import parse_pose_metainfo
    return parse_pose_metainfo(dict(from_file=f'configs/_base_/datasets/{dataset}.py'))


def load(rel):
    with open(osp.join(TEST_DATA, rel)) as f:
        return json.load(f)


def write(path, coco):
    path.write_text(json.dumps(coco))
    return str(path)


def generate(tmp_path, coco, **kwargs):
    """new_keypoint_config on ``coco`` (written to tmp) as train and val."""
    from genloc_mmpose.custom_keypoints import new_keypoint_config
    ann = write(tmp_path / 'export.json', coco)
    kwargs.setdefault('img_root', osp.join(TEST_DATA, 'animalpose'))
    kwargs.setdefault('out_dir', str(tmp_path / 'configs'))
    return new_keypoint_config(kwargs.pop('name', 'mine'), ann, ann, **kwargs)


def assert_fast_pipelines(cfg, max_reduction=8):
    """The config's pipelines are the shipped configs' fast ones: training decodes
    each JPEG at its crop's scale (at most 1 / ``max_reduction``) with the flip folded
    into the warp; validation and test decode each image once for all its boxes
    (MMPose's crops)."""
    train = cfg.train_dataloader.dataset.pipeline
    assert [t.type for t in train] == [
        'GenLocLoadImage', 'GetBBoxCenterScale', 'GenLocRandomFlip', 'RandomBBoxTransform',
        'GenLocTopdownAffine', 'GenerateTarget', 'PackPoseInputs']
    assert train[0].reduced_decode is True
    assert train[4].get('max_reduction', 8) == max_reduction
    for split in ('val', 'test'):
        pipeline = cfg[f'{split}_dataloader'].dataset.pipeline
        assert [t.type for t in pipeline] == [
            'GenLocLoadImage', 'GetBBoxCenterScale', 'TopdownAffine', 'PackPoseInputs']
        assert pipeline[0].cache_images == 1 and not pipeline[0].get('reduced_decode')


@pytest.mark.parametrize('sample', list(SAMPLES))
def test_metainfo_matches_mmpose(sample, tmp_path):
    """Flip indices inferred from the names (L_F_Paw, left_eye, ...) equal MMPose's
    hand-written metainfo of each dataset; the 1-based skeleton is read as MMPose's."""
    from mmpose.datasets.datasets.utils import parse_pose_metainfo
    rel, dataset = SAMPLES[sample]
    config, _ = generate(tmp_path, load(rel), name=sample,
                         img_root=osp.dirname(osp.join(TEST_DATA, rel)))
    meta_file = tmp_path / 'configs' / '_base_' / 'datasets' / f'{sample}.py'
    ours, theirs = parse_pose_metainfo(dict(from_file=str(meta_file))), mmpose_meta(dataset)
    assert ours['flip_indices'] == theirs['flip_indices']
    assert ours['num_keypoints'] == theirs['num_keypoints']
    np.testing.assert_array_equal(ours['sigmas'], np.full(ours['num_keypoints'], 0.067,
                                                          dtype=np.float32))
    np.testing.assert_array_equal(ours['dataset_keypoint_weights'], 1.0)
    colors = ours['keypoint_colors']
    for a, b in ours['flip_pairs']:  # a pair shares its colour, parts differ
        np.testing.assert_array_equal(colors[a], colors[b])
    assert len({tuple(c) for c in colors}) == ours['num_keypoints'] - len(ours['flip_pairs']) // 2
    if sample in ('animalpose', 'ap10k'):  # the export's skeleton is MMPose's
        assert ours['skeleton_links'] == theirs['skeleton_links']
    cfg = Config.fromfile(config)
    assert cfg.num_keypoints == cfg.model.backbone.num_keypoints == theirs['num_keypoints']


def test_out_of_range_links_dropped_with_warning(monkeypatch):
    """The CrowdPose export carries COCO's 17-keypoint skeleton for 14 keypoints."""
    import logging

    from genloc_mmpose.datasets import keypoint_metainfo
    logged = []
    monkeypatch.setattr(keypoint_metainfo, 'print_log',
                        lambda msg, logger, level: logged.append((msg, level)))
    coco = load('crowdpose/test_crowdpose.json')
    names = coco['categories'][0]['keypoints']
    links = keypoint_metainfo.skeleton_links(coco['categories'][0]['skeleton'], names,
                                             'crowd.json')
    assert links == [(13, 11), (11, 12), (5, 11), (6, 12), (5, 6), (5, 7), (6, 8), (7, 9),
                     (8, 10)]
    assert logged == [('crowd.json: dropped skeleton links out of range for 14 keypoints '
                       '(COCO links are 1-based, 1..14): [[16, 14], [17, 15], [15, 13]]',
                       logging.WARNING)]


def test_flip_pairs_naming_styles():
    from genloc_mmpose.keypoint_names import flip_indices, infer_flip_pairs, parse_flip_pairs
    names = ['nose', 'L_F_Paw', 'R_F_Paw', 'RightHand', 'LeftHand', 'wing.r', 'wing.l',
             'tail-L', 'tail-R', 'front left paw', 'front right paw', 'LEFT_EAR',
             'right_ear', 'Lid', 'Rim', 'Lip', 'lower', 'cleft']
    assert flip_indices(len(names), infer_flip_pairs(names)) == [
        0, 2, 1, 4, 3, 6, 5, 8, 7, 10, 9, 12, 11, 13, 14, 15, 16, 17]
    # animal-pose tools: the side before an index or a segment letter, inside a
    # compound word, short or full, any case
    names = ['forelegL1', 'forelegR1', 'L1A', 'R1A', 'antbaseR', 'antbaseL', 'hindleg_r_2',
             'hindleg_l_2', 'leftear', 'rightear', 'LeftFrontPaw', 'RightFrontPaw', 'l_eye',
             'R_EYE', 'midleftwing', 'midrightwing', 'Lip', 'lower', 'tailbase']
    assert infer_flip_pairs(names) == [(0, 1), (2, 3), (5, 4), (7, 6), (8, 9), (10, 11),
                                       (12, 13), (14, 15)]
    assert parse_flip_pairs('Lip:lower, tailbase:L1A', names) == [(16, 17), (18, 2)]
    assert parse_flip_pairs('', names) == []
    with pytest.raises(ValueError, match=r"\['foot'\] are not keypoint names"):
        parse_flip_pairs('foot:Lip', names)
    with pytest.raises(ValueError, match='repeats a keypoint'):
        parse_flip_pairs('Lip:lower,lower:L1A', names)


def test_sided_names_without_one_partner_warn(monkeypatch):
    """A sided name without a partner, or with several, stays unpaired (maps to
    itself) and the tool says which names and what it did."""
    import logging

    from genloc_mmpose import keypoint_names
    logged = []
    monkeypatch.setattr(keypoint_names, 'print_log',
                        lambda msg, logger, level: logged.append((msg, level)))
    names = ['tail_L', 'left_eye', 'L_Eye', 'right_eye', 'wingL', 'wingR', 'nose']
    assert keypoint_names.infer_flip_pairs(names, 'x.json') == [(4, 5)]
    assert logged == [
        ("x.json: keypoint names that look sided but have no partner on the other side: "
         "['tail_L']. Kept unpaired: each maps to itself in flip augmentation and the flip "
         "test. If they are left/right keypoints, give all pairs with --flip-pairs a:b,c:d.",
         logging.WARNING),
        ("x.json: ambiguous flip pairs, left unpaired (each maps to itself): 'left_eye' "
         "could pair with 'right_eye'; 'L_Eye' could pair with 'right_eye'; 'right_eye' "
         "could pair with 'left_eye' or 'L_Eye'. Give the pairs with --flip-pairs a:b,c:d.",
         logging.WARNING)]


# Pairs in MMPose's metainfo that cannot follow from the names: numbered landmarks
# whose side lies in a numbering convention (iBUG's 68 face points, WFLW's 98,
# DeepFashion2's garment outlines), not in the name.
NUMBERED_LANDMARKS = {
    r'kpt-\d+': ('300vw', '300w', 'aflw', 'cofw', 'lapa', 'wflw'),
    r'face-\d+': ('coco_wholebody', 'coco_wholebody_face', 'coco_wholebody_openpose', 'h3wb',
                  'halpe', 'ubody2d'),
    r'Face_\d+': ('ubody3d',),
    r'[a-z]+_kpt\d+': ('deepfashion2',),
}


def test_flip_pairs_of_every_mmpose_dataset(monkeypatch):
    """Flip pairs inferred from the names of every dataset in MMPose's
    configs/_base_/datasets equal MMPose's flip_indices, but for the numbered
    landmarks of NUMBERED_LANDMARKS (unsided names, paired only among themselves);
    no false pair and no warning on the unsided ones."""
    import glob
    import re

    import mmpose
    from mmpose.datasets.datasets.utils import parse_pose_metainfo

    from genloc_mmpose import keypoint_names
    logged = []
    monkeypatch.setattr(keypoint_names, 'print_log', lambda *args, **kw: logged.append(args))
    pairs = {}
    for path in sorted(glob.glob(osp.join(osp.dirname(mmpose.__file__), '.mim', 'configs',
                                          '_base_', 'datasets', '*.py'))):
        dataset = osp.splitext(osp.basename(path))[0]
        meta = parse_pose_metainfo(dict(from_file=path))
        names = [meta['keypoint_id2name'][i] for i in range(meta['num_keypoints'])]
        theirs = {(min(i, j), max(i, j)) for i, j in enumerate(meta['flip_indices']) if i != j}
        pattern = next((p for p, sets in NUMBERED_LANDMARKS.items() if dataset in sets), '$^')
        numbered = {i for i, name in enumerate(names) if re.fullmatch(pattern, name)}
        assert all(keypoint_names.name_side(names[i])[0] is None for i in numbered)
        assert all(set(p) <= numbered for p in theirs if set(p) & numbered), dataset
        assert (pattern == '$^') == (not numbered), dataset  # the list is not stale
        ours = {tuple(sorted(p)) for p in keypoint_names.infer_flip_pairs(names, dataset)}
        assert ours == {p for p in theirs if not set(p) & numbered}, dataset
        pairs[dataset] = len(ours)
    assert not logged
    assert len(pairs) == 55 and sum(n > 0 for n in pairs.values()) == 39
    assert (pairs['fly'], pairs['locust'], pairs['zebra'], pairs['macaque'], pairs['horse10'],
            pairs['coco_wholebody']) == (14, 15, 2, 8, 0, 32)


def test_synthetic_export_gives_the_hand_written_metainfo(tmp_path):
    """The marker generator's train json (2 images, deterministic) through the tool:
    names, flip indices and skeleton of configs/genloc/synthetic/_base_/..."""
    from mmpose.datasets.datasets.utils import parse_pose_metainfo
    from genloc_mmpose.synthetic.markers import METAINFO, make_split
    data = tmp_path / 'markers'
    make_split(str(data), 'train', 2)
    from genloc_mmpose.custom_keypoints import new_keypoint_config
    ann = str(data / 'annotations' / 'synthetic_train.json')
    new_keypoint_config('markers', ann, ann, str(data / 'images'), arch='tiny',
                        out_dir=str(tmp_path / 'cfg'))
    ours = parse_pose_metainfo(
        dict(from_file=str(tmp_path / 'cfg' / '_base_' / 'datasets' / 'markers.py')))
    theirs = parse_pose_metainfo(dict(from_file=METAINFO))
    for key in ('keypoint_id2name', 'flip_indices', 'flip_pairs', 'skeleton_links'):
        assert ours[key] == theirs[key], key


def test_sd15_config_dataset_and_defaults(tmp_path):
    """The sd15 config: the recipe's pipeline at the asked size, the schedule rule,
    text conditions when the weights have a text encoder, use_area=False for
    annotations without area; its dataset loads the export with the new metainfo."""
    from mmengine.registry import init_default_scope
    from mmpose.registry import DATASETS
    coco = load('crowdpose/test_crowdpose.json')  # no "area", as many exports
    weights = tmp_path / 'sd'
    for sub in ('unet', 'vae', 'text_encoder', 'tokenizer'):
        (weights / sub).mkdir(parents=True)
    config, report = generate(tmp_path, coco, img_root=osp.join(TEST_DATA, 'crowdpose'),
                              input_size=(192, 256), weights=str(weights), object_name='diver')
    cfg = Config.fromfile(config)
    assert osp.basename(config) == 'genloc_sd15-lora16_mine-192x256.py'
    assert cfg.codec.input_size == (192, 256) and cfg.codec.heatmap_size == (48, 64)
    # the recipe's fast pipeline (tests/test_fast_pipeline.py checks it against MMPose's),
    # no RandomHalfBody
    assert_fast_pipelines(cfg)
    assert cfg.train_dataloader.dataset.pipeline[4].input_size == (192, 256)
    assert cfg.model.head.decoder.heatmap_size == (48, 64)
    backbone = cfg.model.backbone
    # random conditions (text ones ended below them after training:
    # docs/experiments.md); the names one option away
    assert (backbone.condition_init, backbone.object_name, backbone.pretrained) == (
        'random', 'diver', str(weights))
    assert any('condition_init=text starts them from the names' in r for r in report)
    assert backbone.keypoint_names == cfg.metainfo
    # 5 instances, batch 25: 1 iteration per epoch; 800 steps x 8 accumulations
    assert cfg.train_cfg.max_epochs == 6400
    assert cfg.param_scheduler[1].milestones == [5120, 6080]
    assert cfg.test_evaluator.use_area is False and any('use_area=False' in r for r in report)
    assert cfg.optim_wrapper.accumulative_counts == 8 and cfg.model.backbone.lora.r == 16
    init_default_scope('mmpose')
    dataset = DATASETS.build(cfg.train_dataloader.dataset)
    assert dataset.metainfo['dataset_name'] == 'mine'
    assert dataset.metainfo['flip_indices'] == mmpose_meta('crowdpose')['flip_indices']
    assert dataset.get_data_info(0)['keypoints'].shape == (1, 14, 2)
    # the model builds with text conditions from the generated metainfo (tiny random
    # U-Net/VAE and text encoder standing in for SD-1.5's)
    from mmpose.registry import MODELS
    from test_text_conditions import write_text_encoder

    from genloc_mmpose.models.text_conditions import init_conditions
    tiny = Config.fromfile(TINY_CONFIG).model.backbone
    write_text_encoder(tmp_path / 'te', 32)
    cfg.model.backbone.update(pretrained=None, unet_cfg=tiny.unet_cfg, vae_cfg=tiny.vae_cfg,
                              text_encoder=str(tmp_path / 'te'), compile=False,
                              condition_init='text')
    model = MODELS.build(cfg.model)
    expected = init_conditions('text', 14, 32, names=coco['categories'][0]['keypoints'],
                               object_name='diver', folder=str(tmp_path / 'te'))
    torch.testing.assert_close(model.backbone.conditions.data, expected, rtol=0, atol=0)
    # without a text encoder in the weights: random conditions, and the report says why
    # text ones are not available
    config, report = generate(tmp_path, coco, img_root=osp.join(TEST_DATA, 'crowdpose'),
                              weights=str(tmp_path / 'nothing'))
    assert Config.fromfile(config).model.backbone.condition_init == 'random'
    assert any('has no text_encoder/ and tokenizer/' in r for r in report)


def bad_exports():
    good = load('animalpose/test_animalpose.json')
    no_kpts = copy.deepcopy(good)
    del no_kpts['categories'][0]['keypoints']
    short = copy.deepcopy(good)
    short['annotations'][1]['keypoints'] = short['annotations'][1]['keypoints'][:-3]
    dup = copy.deepcopy(good)
    dup['categories'][0]['keypoints'][1] = 'L_Eye'
    missing = copy.deepcopy(good)
    missing['images'][0]['file_name'] = 'gone/ca110.jpeg'
    unlabelled = copy.deepcopy(good)
    for ann in unlabelled['annotations']:
        ann['keypoints'] = [0] * len(ann['keypoints'])
    two = copy.deepcopy(good)
    two['categories'].append(dict(id=2, name='fish', keypoints=['mouth', 'fin']))
    return [
        (no_kpts, r'not a COCO keypoints file.*categories\[\]\.keypoints.*COCO Keypoints'),
        (short, r'1 annotations have keypoints of another length than 3 x 20.*ids \[583\]'),
        (dup, r"duplicate keypoint names \['L_Eye'\]"),
        (missing, r"1 of the 2 images .* missing under --img-root .*\['gone/ca110.jpeg'\]"),
        (unlabelled, 'no labelled keypoint'),
        (two, r"several keypoint lists \(\['cat'\]: \['L_Eye'.*\['fish'\]: \['mouth', "
              r"'fin'\]\)\. Pick one category with --category"),
    ]


@pytest.mark.parametrize('index', range(6))
def test_bad_input_errors_and_writes_nothing(index, tmp_path):
    coco, message = bad_exports()[index]
    with pytest.raises((ValueError, FileNotFoundError), match=message) as err:
        generate(tmp_path, coco)
    assert 'export.json' in str(err.value)  # names the file
    assert not (tmp_path / 'configs').exists()


def test_category_picks_a_keypoint_list(tmp_path):
    coco = bad_exports()[-1][0]
    config, _ = generate(tmp_path, coco, category='cat')
    assert Config.fromfile(config).num_keypoints == 20
    with pytest.raises(ValueError, match="no category named 'dog'"):
        generate(tmp_path, coco, category='dog')


def new_keypoints_cli(*args, monkeypatch):
    """tools/new_keypoints.py in this process (as from the command line)."""
    monkeypatch.setattr(sys, 'argv', ['tools/new_keypoints.py', *args])
    runpy.run_path(osp.join(REPO, 'tools', 'new_keypoints.py'), run_name='__main__')


def test_cli_error_exit(tmp_path, monkeypatch):
    ann = write(tmp_path / 'bad.json', bad_exports()[0][0])
    with pytest.raises(SystemExit) as exit_:
        new_keypoints_cli('x', '--train', ann, '--val', ann, '--img-root', str(tmp_path),
                          '--out-dir', str(tmp_path / 'out'), monkeypatch=monkeypatch)
    assert str(exit_.value.code).startswith(
        f'genloc-new-keypoints: error: {ann} is not a COCO keypoints file')
    assert not (tmp_path / 'out').exists()


@pytest.mark.slow
def test_end_to_end_tiny(tmp_path, monkeypatch, capsys):
    """new_keypoints.py --arch tiny on the Animal-Pose sample export (without "area",
    as many exports) -> train -> test -> MMPoseInferencer: it
    overfits the two animals; keypoint count and skeleton come from the json."""
    from mmpose.apis import MMPoseInferencer
    coco = load('animalpose/test_animalpose.json')
    for ann in coco['annotations']:
        del ann['area']
    ann = write(tmp_path / 'cats.json', coco)
    root = osp.join(TEST_DATA, 'animalpose')
    new_keypoints_cli('cats', '--train', ann, '--val', ann, '--img-root', root, '--arch',
                      'tiny', '--input-size', '64', '64', '--epochs', '40', '--out-dir',
                      str(tmp_path / 'configs'), monkeypatch=monkeypatch)
    stdout = capsys.readouterr().out
    config = stdout.strip().splitlines()[-1]  # the last line is the config
    assert config == str(tmp_path / 'configs' / 'genloc_tiny_cats-64x64.py')
    assert 'flip pairs (inferred from the names): L_Eye <-> R_Eye' in stdout
    # trained and tested in this process, as tools/train.py and tools/test.py would
    # (the commands themselves: tests/test_install.py, from the wheel)
    from mmengine.runner import Runner
    cfg = Config.fromfile(config)
    cfg.work_dir = str(tmp_path / 'work')
    runner = Runner.from_cfg(cfg)
    runner.train()
    ckpt = osp.join(cfg.work_dir, 'iter_40.pth')  # 2 instances: 1 iteration per epoch
    assert runner.test()['coco/AP'] >= 0.8

    inferencer = MMPoseInferencer(pose2d=config, pose2d_weights=ckpt, device='cpu',
                                  det_model='whole_image')
    meta = inferencer.inferencer.model.dataset_meta
    assert meta['num_keypoints'] == 20
    assert meta['skeleton_links'] == [
        (a - 1, b - 1) for a, b in coco['categories'][0]['skeleton']]
    image = coco['images'][0]
    gt = next(a for a in coco['annotations'] if a['image_id'] == image['id'])
    x, y, w, h = gt['bbox']
    people = next(inferencer(osp.join(root, image['file_name']),
                             bboxes=[[[x, y, x + w, y + h]]]))['predictions'][0]
    kpts = np.array(people[0]['keypoints'])
    assert kpts.shape == (20, 2)
    gt_kpts = np.array(gt['keypoints']).reshape(20, 3)
    visible = gt_kpts[:, 2] > 0
    error = np.linalg.norm(kpts[visible] - gt_kpts[visible, :2], axis=1)
    assert np.median(error) < 0.05 * max(w, h), error  # pixels, a 64x64 crop


def test_minisd_and_served_recipes(tmp_path, monkeypatch):
    """``--arch minisd``: the creature recipe on the shipped miniature SD (its
    warm-up and cosine to the recipe's iterations, its PCK and EPE metrics kept,
    conditions from the names with the prior's text encoder); the app's Teach
    recipe from a trained model's own config: its prior and iteration budget (or
    random weights of its architecture; validated as it tests when it was trained
    without validation), and the tiny CPU recipe for an epoch-based (SD-1.5)
    config."""
    from mmpose.registry import MODELS

    from genloc_mmpose.app.teach import teach_recipe
    from genloc_mmpose.custom_keypoints import new_keypoint_config, served_recipe
    from genloc_mmpose.resources import MINI_SD, config_file
    from genloc_mmpose.synthetic import creatures
    monkeypatch.chdir(tmp_path)
    ann = creatures.write_coco(str(tmp_path / 'critters'), 'val', 5, name='pool')
    images = str(tmp_path / 'critters' / 'images')
    config, report = new_keypoint_config('critters', ann, img_root=images, arch='minisd',
                                         out_dir='cfg')
    cfg = Config.fromfile(config)
    recipe = Config.fromfile(config_file(
        'genloc', 'creatures', 'genloc_minisd-lora16_1xb16-1000it_creatures-64x64.py'))
    iters = recipe.train_cfg.max_iters
    # the creature recipe's MMPose transforms, written as the fast ones; at 64 px the
    # JPEG decoded in full (the flip still folded into the warp)
    assert {'RandomFlip', 'TopdownAffine'} <= {t.type for t in recipe.train_pipeline}
    assert_fast_pipelines(cfg, max_reduction=1)
    assert osp.realpath(cfg.model.backbone.pretrained) == osp.realpath(MINI_SD)
    assert cfg.model.backbone.condition_init == 'random'
    assert cfg.codec.input_size == (64, 64) and cfg.train_cfg.max_iters >= iters
    warmup, cosine = cfg.param_scheduler
    assert (warmup.type, warmup.end, cosine.type, cosine.begin, cosine.end, cosine.T_max) == (
        'LinearLR', 20, 'CosineAnnealingLR', 20, cfg.train_cfg.max_iters,
        cfg.train_cfg.max_iters - 20)
    assert [m.type for m in cfg.test_evaluator] == ['CocoMetric', 'PCKAccuracy', 'EPE']
    assert cfg.test_evaluator[0].ann_file == cfg.test_dataloader.dataset.ann_file
    from mmengine.registry import init_default_scope
    init_default_scope('mmpose')
    model = MODELS.build(cfg.model)
    assert model.backbone.conditions.shape == (18, 128)

    served, text = teach_recipe(config)
    assert served == served_recipe(config) and served['weights'] == cfg.model.backbone.pretrained
    assert str(cfg.train_cfg.max_iters) in text and 'prior' in text
    taught, _ = new_keypoint_config('critters2', ann, img_root=images, arch=served,
                                    out_dir='cfg')
    taught = Config.fromfile(taught)
    assert taught.model.backbone.pretrained == cfg.model.backbone.pretrained
    assert_fast_pipelines(taught, max_reduction=1)  # a served config's, kept as they are
    assert taught.train_cfg.max_iters >= cfg.train_cfg.max_iters
    # a served model trained without validation (the demo's): validated as it tests
    served_cfg = tmp_path / 'served_no_val.py'
    served_cfg.write_text(f'_base_ = [{config!r}]\nval_dataloader = val_evaluator = '
                          'val_cfg = None\n')
    taught = Config.fromfile(new_keypoint_config(
        'critters5', ann, img_root=images, arch=served_recipe(str(served_cfg)),
        out_dir='cfg')[0])
    assert taught.val_cfg.type == 'ValLoop'
    assert taught.val_dataloader.batch_size == cfg.test_dataloader.batch_size
    assert taught.val_dataloader.dataset.ann_file == taught.test_dataloader.dataset.ann_file
    assert [m.type for m in taught.val_evaluator] == ['CocoMetric', 'PCKAccuracy', 'EPE']
    # the same run on random frozen weights of the prior's architecture (Teach's
    # "random weights" start): the prior's shapes, not its values
    none, report = new_keypoint_config('critters3', ann, img_root=images, arch=served,
                                       out_dir='cfg', random_weights=True)
    none = Config.fromfile(none)
    assert none.model.backbone.pretrained is None
    for sub in ('unet', 'vae'):
        assert osp.samefile(none.model.backbone[f'{sub}_cfg'],
                            osp.join(MINI_SD, sub, 'config.json'))
    assert any('random frozen weights' in line for line in report)
    none = MODELS.build(none.model)
    prior_w, none_w = model.backbone.unet.conv_in.weight, none.backbone.unet.conv_in.weight
    assert prior_w.shape == none_w.shape and (prior_w - none_w).abs().max() > 0.1
    with pytest.raises(ValueError, match='--random-weights takes the architecture'):
        new_keypoint_config('critters4', ann, img_root=images, arch='tiny', out_dir='cfg',
                            random_weights=True)
    sd15 = config_file('genloc', 'ap10k', 'genloc_sd15-lora16_8xb25-100e_ap10k-256x256.py')
    assert teach_recipe(sd15)[0] == 'tiny'
    with pytest.raises(ValueError, match='epoch-based'):
        served_recipe(sd15)
