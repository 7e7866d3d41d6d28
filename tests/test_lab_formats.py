"""DeepLabCut projects and SLEAP files -> COCO keypoints (genloc_mmpose/datasets/
lab_formats.py) -> tools/new_keypoints.py -> training: projects written here, as the
tools write them, from the sample images and their keypoints."""
import json
import os
import os.path as osp
import shutil

import cv2
import numpy as np
import pandas as pd
import pytest
import sleap_io as sio
import yaml
from mmengine.config import Config

from conftest import TEST_DATA
from test_new_keypoints import new_keypoints_cli


def sample(rel):
    """(COCO json, image folder) of a sample export."""
    with open(osp.join(TEST_DATA, rel)) as f:
        return json.load(f), osp.dirname(osp.join(TEST_DATA, rel))


def points(ann, num):
    """(K, 2) keypoints of a COCO annotation, NaN where unlabelled."""
    kpts = np.array(ann['keypoints'], float).reshape(num, 3)
    return np.where(kpts[:, 2:] > 0, kpts[:, :2], np.nan)


def instances(coco, image):
    return [a for a in coco['annotations']
            if a['image_id'] == image['id'] and any(a['keypoints'][2::3])]


def write_dlc_project(folder, rel, multi=False, unique=()):
    """A DeepLabCut 2.3 project of the sample ``rel``: config.yaml and
    labeled-data/video0/ with the images and CollectedData_lab.csv (DeepLabCut's
    pandas layout: 3 header rows, multi-animal 4; image index in 3 columns; empty
    cells for unlabelled points). ``unique``: multi-animal unique body parts."""
    coco, root = sample(rel)
    cat = coco['categories'][0]
    names, video = cat['keypoints'], osp.join(folder, 'labeled-data', 'video0')
    os.makedirs(video)
    animals = [f'animal{i}' for i in range(max(len(instances(coco, img))
                                               for img in coco['images']))]
    if multi:
        columns = [('lab', a, n, c) for a in animals for n in names for c in 'xy'] + [
            ('lab', 'single', n, c) for n in unique for c in 'xy']
        levels = ['scorer', 'individuals', 'bodyparts', 'coords']
    else:
        columns, levels = [('lab', n, c) for n in names for c in 'xy'], [
            'scorer', 'bodyparts', 'coords']
    rows, index = [], []
    for img in coco['images']:
        shutil.copy(osp.join(root, img['file_name']), video)
        pts = np.full((len(animals) if multi else 1, len(names), 2), np.nan)
        for i, ann in enumerate(instances(coco, img)):
            pts[i] = points(ann, len(names))
        rows.append(np.concatenate([pts.ravel(), np.arange(2.0 * len(unique))]))
        index.append(('labeled-data', 'video0', img['file_name']))
    pd.DataFrame(rows, index=pd.MultiIndex.from_tuples(index), columns=pd.MultiIndex.from_tuples(
        columns, names=levels)).to_csv(osp.join(video, 'CollectedData_lab.csv'))
    config = dict(Task='sample', scorer='lab', date='Jan1', multianimalproject=multi,
                  project_path=str(folder), video_sets={'/videos/video0.mp4': dict(
                      crop='0, 640, 0, 480')},
                  skeleton=[[names[a - 1], names[b - 1]] for a, b in cat['skeleton']
                            if max(a, b) <= len(names)])  # CrowdPose's has COCO's links
    if multi:
        config.update(individuals=animals, uniquebodyparts=list(unique),
                      multianimalbodyparts=names, bodyparts='MULTI!')
    else:
        config['bodyparts'] = names
    (folder / 'config.yaml').write_text(yaml.safe_dump(config, sort_keys=False))
    return coco


def write_slp(path, rel, symmetries=(), root=None):
    """A SLEAP labels file of the sample ``rel``: one image-list video (of the images
    in ``root``, default the sample's folder), one user instance per annotation, the
    export's skeleton and ``symmetries``."""
    coco, sample_root = sample(rel)
    root = root or sample_root
    cat = coco['categories'][0]
    names = cat['keypoints']
    skeleton = sio.Skeleton(list(names),  # (it turns the list it gets into nodes)
                            [(names[a - 1], names[b - 1]) for a, b in cat['skeleton']],
                            symmetries=list(symmetries))
    video = sio.Video.from_filename([osp.join(root, i['file_name']) for i in coco['images']])
    frames = [sio.LabeledFrame(video=video, frame_idx=f, instances=[
        sio.Instance.from_numpy(points(a, len(names)), skeleton=skeleton)
        for a in instances(coco, img)]) for f, img in enumerate(coco['images'])]
    sio.save_slp(sio.Labels(labeled_frames=frames), str(path))
    return coco


def assert_same_keypoints(ours, coco, box_margin=0.1):
    """Converted annotations = the sample's keypoints (v > 0 -> 2, unlabelled 0, 0,
    0), image by image; boxes: the points' box grown by the margin, in the image."""
    names = coco['categories'][0]['keypoints']
    assert ours['categories'][0]['keypoints'] == names
    assert len(ours['images']) == len(coco['images'])
    for image, theirs in zip(ours['images'], coco['images']):
        assert (image['width'], image['height']) == (theirs['width'], theirs['height'])
        anns = [a for a in ours['annotations'] if a['image_id'] == image['id']]
        expected = instances(coco, theirs)
        assert len(anns) == len(expected)
        for ann, gt in zip(anns, expected):
            kpts = np.array(gt['keypoints'], float).reshape(-1, 3)
            kpts[kpts[:, 2] > 0, 2] = 2
            np.testing.assert_array_equal(np.array(ann['keypoints']).reshape(-1, 3), kpts)
            xy = kpts[kpts[:, 2] > 0, :2]
            pad = box_margin * (xy.max(0) - xy.min(0)).max()
            x, y, w, h = ann['bbox']
            np.testing.assert_allclose(
                [x, y, x + w, y + h],
                [max(xy[:, 0].min() - pad, 0), max(xy[:, 1].min() - pad, 0),
                 min(xy[:, 0].max() + pad, image['width']),
                 min(xy[:, 1].max() + pad, image['height'])])
            assert ann['num_keypoints'] == len(xy) and ann['category_id'] == 1


def test_dlc_single_animal_project(tmp_path):
    """Animal-Pose sample as a single-animal DeepLabCut project: the config's body
    part order, skeleton and the images in place."""
    from genloc_mmpose.datasets.lab_formats import read_dlc_project
    coco = write_dlc_project(tmp_path, 'animalpose/test_animalpose.json')
    labels = read_dlc_project(str(tmp_path), 'cat', 0.1)
    assert_same_keypoints(labels['coco'], coco)
    assert labels['img_root'] == str(tmp_path)
    assert [i['file_name'] for i in labels['coco']['images']] == [
        'labeled-data/video0/ca110.jpeg', 'labeled-data/video0/ho105.jpeg']
    cat = labels['coco']['categories'][0]
    assert cat['name'] == 'cat'
    assert sorted(map(tuple, cat['skeleton'])) == sorted(
        map(tuple, coco['categories'][0]['skeleton']))
    assert labels['notes'] == [f'{tmp_path}/config.yaml: 2 labelled images, 2 instances '
                               '(single-animal) from labeled-data/{video0}']


def test_dlc_multi_animal_project(tmp_path):
    """CrowdPose sample (several people per image, some points unlabelled) as a
    multi-animal project with a unique body part: one annotation per labelled
    individual; unique body parts are left out, and said so."""
    from genloc_mmpose.datasets.lab_formats import read_dlc_project
    coco = write_dlc_project(tmp_path, 'crowdpose/test_crowdpose.json', multi=True,
                             unique=['arena_corner'])
    labels = read_dlc_project(str(tmp_path / 'config.yaml'), 'person', 0.1)
    assert_same_keypoints(labels['coco'], coco)
    assert len(labels['coco']['annotations']) == 4
    assert labels['notes'][1] == (f'{tmp_path}/config.yaml: body parts not in '
                                  '"multianimalbodyparts" left out: [\'arena_corner\']')


def test_slp_file_frames_and_symmetries(tmp_path):
    """AP-10K sample as a SLEAP file: keypoints, per-frame sizes (the two images
    differ), frames written as PNG equal to the images, symmetries as flip pairs."""
    from genloc_mmpose.datasets.lab_formats import read_slp, write_frames
    coco = write_slp(tmp_path / 'ap.slp', 'ap10k/test_ap10k.json',
                     [('left_eye', 'right_eye'), ('left_hip', 'right_hip')])
    labels = read_slp(str(tmp_path / 'ap.slp'), 'animal', 'train', 0.1)
    assert_same_keypoints(labels['coco'], coco)
    assert sorted(map(sorted, labels['flip_pairs'])) == [[0, 1], [11, 14]]
    write_frames(labels['frames'], str(tmp_path / 'images'))
    for image, theirs in zip(labels['coco']['images'], coco['images']):
        written = cv2.imread(str(tmp_path / 'images' / image['file_name']))
        np.testing.assert_array_equal(
            written, cv2.imread(osp.join(TEST_DATA, 'ap10k', theirs['file_name'])))
    assert labels['coco']['images'][0]['file_name'] == 'train/0-000000037516-000000.png'
    # through the tool: the symmetries are the flip pairs (not the names' 7 pairs)
    from mmpose.datasets.datasets.utils import parse_pose_metainfo

    from genloc_mmpose.custom_keypoints import new_keypoint_config
    config, report = new_keypoint_config('ap', str(tmp_path / 'ap.slp'), arch='tiny',
                                         out_dir=str(tmp_path / 'cfg'),
                                         data_dir=str(tmp_path / 'data'))
    assert ("flip pairs (from the SLEAP skeleton's symmetries): left_eye <-> right_eye, "
            'left_hip <-> right_hip') in report
    meta = parse_pose_metainfo(Config.fromfile(config).train_dataloader.dataset.metainfo)
    flips = list(range(17))
    flips[0], flips[1], flips[11], flips[14] = 1, 0, 14, 11
    assert meta['flip_indices'] == flips


def test_split_by_image_seeded():
    from genloc_mmpose.custom_keypoints import split_by_image
    coco = dict(images=[dict(id=i) for i in range(10)],
                annotations=[dict(id=j, image_id=j // 2) for j in range(20)], categories=[])
    train, val = split_by_image(coco, 0.2, 0, 'x.json')
    assert len(val['images']) == 2 and len(train['images']) == 8
    val_ids = {i['id'] for i in val['images']}
    assert {a['image_id'] for a in val['annotations']} == val_ids
    assert len(train['annotations']) == 16 and not val_ids & {i['id'] for i in train['images']}
    assert split_by_image(coco, 0.2, 0, 'x.json') == (train, val)  # seeded
    assert split_by_image(coco, 0.2, 1, 'x.json') != (train, val)
    with pytest.raises(ValueError, match='x.json holds 1 labelled image.*give --val'):
        split_by_image(dict(coco, images=coco['images'][:1]), 0.2, 0, 'x.json')


def test_one_project_is_split_by_image(tmp_path, capsys, monkeypatch):
    """One labelled set (no --val): a seeded split by image, printed; the converted
    files go to --data-dir, the config reads them and the images in the project."""
    write_dlc_project(tmp_path / 'proj', 'crowdpose/test_crowdpose.json', multi=True)
    new_keypoints_cli('people', '--train', str(tmp_path / 'proj'), '--arch', 'tiny',
                      '--out-dir', str(tmp_path / 'cfg'), '--data-dir', str(tmp_path / 'data'),
                      monkeypatch=monkeypatch)
    stdout = capsys.readouterr().out
    assert (f'no --val: {tmp_path / "proj"} split by image (--seed 0, --val-fraction 0.2): '
            "1 train, 1 val images; val: ['labeled-data/video0/106848.jpg']") in stdout
    assert 'flip pairs (inferred from the names): left_shoulder <-> right_shoulder' in stdout
    cfg = Config.fromfile(stdout.strip().splitlines()[-1])
    assert cfg.val_dataloader.dataset.ann_file == str(tmp_path / 'data' / 'val.json')
    assert cfg.test_evaluator.ann_file == str(tmp_path / 'data' / 'val.json')
    assert cfg.train_dataloader.dataset.data_prefix.img == str(tmp_path / 'proj') + '/'
    with open(tmp_path / 'data' / 'train.json') as f:
        assert [i['file_name'] for i in json.load(f)['images']] == [
            'labeled-data/video0/103319.jpg']
    assert cfg.model.backbone.num_keypoints == 14


@pytest.mark.parametrize('case', ['no_config', 'missing_image', 'missing_video', 'format'])
def test_errors_name_the_file_and_write_nothing(case, tmp_path):
    from genloc_mmpose.custom_keypoints import new_keypoint_config
    labels = str(tmp_path / 'proj')
    if case == 'no_config':
        os.makedirs(labels)
        message = rf'{labels}: no {labels}/config.yaml; a DeepLabCut project is a folder'
    elif case == 'missing_image':
        write_dlc_project(tmp_path / 'proj', 'animalpose/test_animalpose.json')
        os.remove(tmp_path / 'proj' / 'labeled-data' / 'video0' / 'ho105.jpeg')
        message = r'images listed in CollectedData_\*.csv are missing from labeled-data/'
    elif case == 'missing_video':
        labels = str(tmp_path / 'moved.slp')  # its images are gone
        shutil.copytree(osp.join(TEST_DATA, 'ap10k'), tmp_path / 'ap10k')
        write_slp(labels, 'ap10k/test_ap10k.json', root=str(tmp_path / 'ap10k'))
        shutil.rmtree(tmp_path / 'ap10k')
        message = r'moved.slp: the frames of .* are not on this machine.*Export Labels Package'
    else:
        labels = str(tmp_path / 'labels.csv')
        open(labels, 'w').close()
        message = 'labels.csv: not a label file GenLoc reads; give a COCO-keypoints .json'
    with pytest.raises((ValueError, FileNotFoundError), match=message):
        new_keypoint_config('x', labels, labels, out_dir=str(tmp_path / 'cfg'),
                            data_dir=str(tmp_path / 'data'))
    assert not (tmp_path / 'cfg').exists() and not (tmp_path / 'data').exists()


@pytest.mark.slow
def test_dlc_and_sleap_end_to_end_tiny(tmp_path, monkeypatch, capsys):
    """new_keypoints.py --arch tiny: train on a DeepLabCut project of the Animal-Pose
    sample, validate on a SLEAP file of the same images and test on the project; both
    give an overfit AP, so both conversions hold the sample's keypoints."""
    from mmengine.runner import Runner
    write_dlc_project(tmp_path / 'proj', 'animalpose/test_animalpose.json')
    write_slp(tmp_path / 'cats.slp', 'animalpose/test_animalpose.json')
    new_keypoints_cli('cats', '--train', str(tmp_path / 'proj'), '--val',
                      str(tmp_path / 'cats.slp'), '--test', str(tmp_path / 'proj'), '--arch',
                      'tiny', '--input-size', '64', '64', '--epochs', '40', '--out-dir',
                      str(tmp_path / 'configs'), '--data-dir', str(tmp_path / 'data'),
                      monkeypatch=monkeypatch)
    cfg = Config.fromfile(capsys.readouterr().out.strip().splitlines()[-1])
    assert cfg.val_dataloader.dataset.data_prefix.img == str(tmp_path / 'data' / 'images') + '/'
    cfg.work_dir = str(tmp_path / 'work')
    runner = Runner.from_cfg(cfg)
    runner.train()  # 40 iterations of the 2 instances
    assert runner.val()['coco/AP'] >= 0.8  # SLEAP
    assert runner.test()['coco/AP'] >= 0.8  # DeepLabCut
