"""The README's demo (``genloc-demo``, ``make demo``; genloc_mmpose/mini_sd/demo.py) on
the shipped miniature SD, run from the wheel in a user's folder (conftest's
``installed_demo``: 2 iterations, 4 labelled and 6 test creatures): the runs it
prints are what they say they are, and what it leaves behind loads."""
import os.path as osp

import cv2
import pytest


@pytest.fixture(scope='module')
def demo_run(installed_demo):
    cwd, log = installed_demo
    return cwd / 'work_dirs' / 'demo' / 'creatures', log


@pytest.fixture(scope='module')
def mini_sd(site):
    return str(site[0] / 'genloc_mmpose' / '.mim' / 'demo' / 'mini-sd')


def test_demo_prints_each_runs_held_out_numbers(demo_run):
    """One line per run with the numbers of its own result file: names alone
    (0 labels, 0 iterations), the prior, random weights and MMPose's from-scratch
    model (4 labels, 2 iterations), all on the same 6 held-out creatures."""
    import json
    work_dir, log = demo_run
    runs = {}
    for name in ('text_all_0it_test6_seed0', 'prior_4shot_2it_test6_seed0',
                 'no-prior_4shot_2it_test6_seed0', 'peer_4shot_2it_test6_seed0'):
        with open(work_dir / name / 'result.json') as f:
            runs[name] = json.load(f)
    for (name, r), title, labels, iters in zip(
            runs.items(), ('GenLoc, names alone (no training)', 'GenLoc on the mini-SD prior',
                           'GenLoc on random weights', "MMPose's ResNet-18, from scratch"),
            (0, 4, 4, 4), (0, 2, 2, 2)):
        assert r['test_images'] == 6 and r['iters'] == iters
        line = f'{title:34s} {labels:6d} {iters:5d} {r["PCK"]:8.3f} {r["EPE"]:7.2f}'
        assert line in log, (line, log[-2000:])
    assert 'tested on 6 held-out creatures' in log


def test_demo_compares_the_prior_with_random_weights_of_one_architecture(demo_run, mini_sd):
    """The prior's run loads demo/mini-sd (in the package); the other the same U-Net
    and VAE configs with no weights: their frozen U-Nets are the same shapes, not the
    same values."""
    from mmengine.config import Config
    work_dir, _ = demo_run
    prior = Config.fromfile(next((work_dir / 'prior_4shot_2it_test6_seed0').glob('*.py')))
    none = Config.fromfile(next((work_dir / 'no-prior_4shot_2it_test6_seed0').glob('*.py')))
    assert osp.samefile(prior.model.backbone.pretrained, mini_sd)
    assert none.model.backbone.pretrained is None
    assert osp.samefile(none.model.backbone.unet_cfg, osp.join(mini_sd, 'unet', 'config.json'))


def test_demo_leaves_a_picture_and_the_apps_model(demo_run, mini_sd):
    """The picture: a titled row per trained model, 4 creatures each, every one
    enlarged 4x with its maps below (64 px -> 256 + 256); the prior's model is left
    as the app's with its score threshold (chosen on validation creatures, printed),
    and it has the text encoder the By name tab needs."""
    import re

    from genloc_mmpose.app.predict import Predictor
    work_dir, log = demo_run
    picture = cv2.imread(str(work_dir / 'creatures_predictions_and_maps.jpg'))
    assert picture.shape == (3 * (28 + 512), 4 * (256 + 4), 3)
    app_dir = work_dir.parent
    predictor = Predictor(str(app_dir / 'genloc_demo.py'), str(app_dir / 'genloc_demo.pth'),
                          device='cpu')
    printed = float(re.search(r'keypoint-score threshold ([\d.]+)', log).group(1))
    assert predictor.score_thr == pytest.approx(printed, abs=5e-4) and predictor.score_thr > 0
    assert predictor.names[:3] == ['left_eye', 'right_eye', 'nose']
    assert osp.samefile(predictor.text_folder, mini_sd)
    image = str(next((work_dir / 'data' / 'images').glob('*.png')))
    found = predictor.predict_by_name(['tail tip', 'nose'], 'creature', image)
    assert found.keypoints.shape[-2:] == (2, 2)
    assert ((found.keypoints >= 0) & (found.keypoints <= 64)).all()
