"""The README's demo (tools/demo.py, genloc_mmpose/mini_sd/demo.py) on the shipped
miniature SD, shortened (2 iterations, 4 labelled and 6 test creatures): the runs it
prints are what they say they are, and what it leaves behind loads."""
import os.path as osp
import subprocess
import sys

import cv2
import pytest

from conftest import REPO


@pytest.fixture(scope='module')
def demo_run(tmp_path_factory):
    work_dir = tmp_path_factory.mktemp('demo') / 'creatures'
    proc = subprocess.run(
        [sys.executable, 'tools/demo.py', '--work-dir', str(work_dir), '--labels', '4',
         '--iters', '2', '--test-images', '6'], cwd=REPO, capture_output=True, text=True,
        timeout=900, env=dict(__import__('os').environ, OMP_NUM_THREADS='2'))
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return work_dir, proc.stdout + proc.stderr


def test_demo_prints_each_runs_held_out_numbers(demo_run):
    """One line per run with the numbers of its own result file: names alone
    (0 labels, 0 iterations), the prior and random weights (4 labels, 2 iterations),
    all on the same 6 held-out creatures."""
    import json
    work_dir, log = demo_run
    runs = {}
    for name in ('text_all_0it_test6_seed0', 'prior_4shot_2it_test6_seed0',
                 'no-prior_4shot_2it_test6_seed0'):
        with open(work_dir / name / 'result.json') as f:
            runs[name] = json.load(f)
    for (name, r), title, labels, iters in zip(
            runs.items(), ('names alone (no training)', 'prior: mini-SD',
                           'no prior: random weights'), (0, 4, 4), (0, 2, 2)):
        assert r['test_images'] == 6 and r['iters'] == iters
        line = (f'{title:34s} {labels:6d} {iters:5d} {r["AP"]:6.3f} {r["PCK"]:8.3f} '
                f'{r["EPE"]:7.2f}')
        assert line in log, (line, log[-2000:])
    assert 'tested on 6 held-out creatures' in log


def test_demo_compares_the_prior_with_random_weights_of_one_architecture(demo_run):
    """The prior's run loads demo/mini-sd; the other the same U-Net and VAE configs
    with no weights: their frozen U-Nets are the same shapes, not the same values."""
    from mmengine.config import Config
    work_dir, _ = demo_run
    prior = Config.fromfile(next((work_dir / 'prior_4shot_2it_test6_seed0').glob('*.py')))
    none = Config.fromfile(next((work_dir / 'no-prior_4shot_2it_test6_seed0').glob('*.py')))
    assert osp.realpath(prior.model.backbone.pretrained) == osp.join(REPO, 'demo', 'mini-sd')
    assert none.model.backbone.pretrained is None
    assert none.model.backbone.unet_cfg == osp.join(REPO, 'demo', 'mini-sd', 'unet',
                                                    'config.json')


def test_demo_leaves_a_picture_and_the_apps_model(demo_run):
    """The picture: a titled row per model, 4 creatures each, every one enlarged 4x
    with its correlation maps below (64 px -> 256 + 256); the prior's model is left
    as the app's, and it has the text encoder the By name tab needs."""
    from genloc_mmpose.app.predict import Predictor
    work_dir, _ = demo_run
    picture = cv2.imread(str(work_dir / 'creatures_predictions_and_maps.jpg'))
    assert picture.shape == (2 * (28 + 512), 4 * (256 + 4), 3)
    app_dir = work_dir.parent
    predictor = Predictor(str(app_dir / 'genloc_demo.py'), str(app_dir / 'genloc_demo.pth'),
                          device='cpu')
    assert predictor.names[:3] == ['left_eye', 'right_eye', 'nose']
    assert predictor.text_folder == osp.join(REPO, 'demo', 'mini-sd')
    image = str(next((work_dir / 'data' / 'images').glob('*.png')))
    found = predictor.predict_by_name(['tail tip', 'nose'], 'creature', image)
    assert found.keypoints.shape[-2:] == (2, 2)
    assert ((found.keypoints >= 0) & (found.keypoints <= 64)).all()
