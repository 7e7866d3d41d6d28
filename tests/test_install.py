"""GenLoc installed into an existing MMPose environment (README "Install into your
MMPose environment").

A wheel is built from the checkout through its sdist (as pip builds one from PyPI)
and installed with ``--no-deps`` into a throw-away folder (no editable link; its
console scripts in its ``bin/``); everything runs from a folder outside the
repository with only that folder on ``PYTHONPATH``: GenLoc's own commands
(``genloc-new-keypoints`` -> ``genloc-train`` -> ``genloc-test``, ``genloc-demo``,
``genloc-app``, a Teach run), MMPose's own ``tools/train.py`` / ``test.py`` /
``demo/inferencer_demo.py`` (from the installed mmpose's ``.mim``) on a shipped config,
``mim train/test genloc_mmpose`` on a user config that inherits ``genloc_mmpose::...``.
"""
import email
import glob
import importlib
import json
import os
import os.path as osp
import shutil
import socket
import subprocess
import time
import urllib.request
import zipfile

import mmpose
import numpy as np
import pytest
from mmengine.config import Config
from packaging.requirements import Requirement
from packaging.version import Version

from conftest import REPO, TEST_DATA, run_python as _run
from test_e2e import COCO, ENV, data_options, test_metrics

MIM_FILES = ('configs', 'tools', 'demo', 'model-index.yml')
TINY = 'genloc/tiny/genloc_tiny_1xb4-300it_coco-128x96.py'
MMPOSE_MIM = osp.join(osp.dirname(mmpose.__file__), '.mim')
# a user's config: GenLoc's tiny recipe on the COCO sample, from the installed package
USER_CONFIG = f"""_base_ = ['genloc_mmpose::{TINY}']
data_root = '{COCO}'
train_dataloader = dict(dataset=dict(data_root=data_root))
val_dataloader = dict(dataset=dict(data_root=data_root))
test_dataloader = val_dataloader
val_evaluator = dict(ann_file=data_root + 'test_coco.json')
test_evaluator = val_evaluator
"""


def _checkout_files(name):
    """The files under REPO/name (a folder or a file), relative to REPO."""
    if osp.isfile(osp.join(REPO, name)):
        return {name}
    return {osp.relpath(osp.join(root, f), REPO)
            for root, dirs, files in os.walk(osp.join(REPO, name))
            if '__pycache__' not in root for f in files if not f.endswith('.pyc')}


def test_wheel_ships_configs_and_tools_in_mim_layout(wheel):
    with zipfile.ZipFile(wheel) as whl:
        names = set(whl.namelist())
    expected = set().union(*map(_checkout_files, MIM_FILES))
    assert {osp.join('genloc_mmpose', '.mim', f) for f in expected} <= names
    assert {n for n in names if '/.mim/' in n} == {
        osp.join('genloc_mmpose', '.mim', f) for f in expected}
    assert len([n for n in names if n.startswith('genloc_mmpose/.mim/configs/genloc/')
                and n.endswith('.py')]) >= 30
    assert 'genloc_mmpose/configs/sd21_unet.json' in names


def test_declared_requirements_hold_in_this_environment(wheel):
    """pip moves nothing in this environment (main or old stack): every dependency
    the wheel declares is met by what is installed; the lower bounds are the old
    stack's versions (requirements/old-stack.txt)."""
    from importlib.metadata import version
    with zipfile.ZipFile(wheel) as whl:
        meta = email.message_from_bytes(whl.read(
            'genloc_mmpose-0.1.0.dist-info/METADATA'))
    requirements = [Requirement(r) for r in meta.get_all('Requires-Dist')
                    if 'extra ==' not in r]
    for req in requirements:
        assert req.specifier.contains(version(req.name), prereleases=True), (
            req, version(req.name))
    with open(osp.join(REPO, 'requirements', 'old-stack.txt')) as f:
        old = dict(line.strip().split('==') for line in f if '==' in line)
    lower = {req.name: Version(spec.version) for req in requirements
             for spec in req.specifier if spec.operator == '>='}
    for name in ('torch', 'mmengine', 'mmdet', 'diffusers', 'peft', 'transformers'):
        # torch>=2.1 admits the old stack's 2.1.2; the others are its exact versions
        release = lower[name].release
        assert Version(old[name]).release[:len(release)] == release, (name, old[name])
    # built / installed by `tools/setup_env.sh old`
    assert lower['mmcv'] == Version('2.1.0') and lower['mmpose'] == Version('1.3.2')


def test_user_config_inherits_shipped_config(site):
    """``_base_ = ['genloc_mmpose::genloc/ap10k/...']`` after ``import genloc_mmpose``:
    the paper's AP-10K recipe builds (its objects in the genloc_mmpose scope, found
    through MMPose's registries)."""
    target, cwd = site
    (cwd / 'user_ap10k.py').write_text(
        "_base_ = ['genloc_mmpose::genloc/ap10k/genloc_sd15-lora16_8xb25-100e_ap10k-256x256"
        ".py']\nmodel = dict(backbone=dict(pretrained=None, compile=False))\n")
    script = """import json, torch, genloc_mmpose
from mmengine.config import Config
from mmpose.registry import MODELS
cfg = Config.fromfile('user_ap10k.py')
with torch.device('meta'):
    model = MODELS.build(cfg.model)
print(json.dumps(dict(
    package=genloc_mmpose.__file__, scope=cfg.model._scope_, model=type(model).__name__,
    conditions=list(model.backbone.conditions.shape), runtime_scope=cfg.default_scope,
    max_epochs=cfg.train_cfg.max_epochs, lora=model.backbone.unet.peft_config['default'].r,
    codec=cfg.codec.input_size)))
"""
    out = json.loads(_run('-c', script, cwd=cwd, site=target).stdout.splitlines()[-1])
    assert out['package'] == str(target / 'genloc_mmpose' / '__init__.py')
    assert out == dict(out, scope='genloc_mmpose', model='BatchFlipTopdownPoseEstimator',
                       conditions=[17, 768], runtime_scope='mmpose', max_epochs=100,
                       lora=16, codec=[256, 256])


def test_editable_install_links_the_checkout():
    """``pip install -e .`` (make env): genloc_mmpose/.mim links to the checkout's
    configs and tools, so ``genloc_mmpose::`` names the files being edited."""
    import genloc_mmpose
    package = osp.dirname(osp.abspath(genloc_mmpose.__file__))
    if package != osp.join(REPO, 'genloc_mmpose'):
        pytest.skip('genloc_mmpose is not imported from this checkout')
    for name in MIM_FILES:
        link = osp.join(package, '.mim', name)
        assert osp.islink(link) and osp.samefile(link, osp.join(REPO, name)), link
    path, scope = Config._get_cfg_path(f'genloc_mmpose::{TINY}', '')
    assert osp.samefile(path, osp.join(REPO, 'configs', TINY)) and scope == 'genloc_mmpose'


def test_detector_ops_of_cuda_tensors_run_through_torchvision(monkeypatch):
    """mmcv's ops are built without CUDA here (and by ``make env`` everywhere), so
    ``import genloc_mmpose`` routes mmdet's NMS and RoIAlign of CUDA tensors to
    torchvision (genloc_mmpose/patches/mmcv_cuda_ops.py). No GPU here: the CUDA branch is taken for
    CPU tensors and must give mmcv's own CPU results."""
    import torch
    from mmcv.ops import get_compiling_cuda_version, nms, roi_align

    import genloc_mmpose.patches.mmcv_cuda_ops as compat
    assert get_compiling_cuda_version() == 'not available'
    nms_ext = importlib.import_module('mmcv.ops.nms').ext_module
    assert isinstance(nms_ext, compat._CudaOpsFromTorchvision)
    torch.manual_seed(0)
    xy = torch.rand(200, 2) * 100
    boxes = torch.cat([xy, xy + 5 + torch.rand(200, 2) * 40], 1)
    scores = torch.rand(200)
    features = torch.randn(2, 8, 32, 40)
    rois = torch.cat([torch.randint(0, 2, (30, 1)).float(), boxes[:30] / 3], 1)
    expected = (nms(boxes, scores, 0.5)[1], roi_align(features, rois, (7, 7), 0.5, 2, 'avg',
                                                      True),
                roi_align(features, rois, (5, 6), 1.0, 0, 'avg', False))
    calls = []
    monkeypatch.setattr(compat, '_on_cuda', lambda t: calls.append(t.shape) or True)
    got = (nms(boxes, scores, 0.5)[1], roi_align(features, rois, (7, 7), 0.5, 2, 'avg', True),
           roi_align(features, rois, (5, 6), 1.0, 0, 'avg', False))
    assert len(calls) == 3  # the torchvision branch ran
    assert torch.equal(got[0], expected[0]) and len(got[0]) > 20
    for a, b in zip(got[1:], expected[1:]):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5)


@pytest.mark.slow
def test_commands_of_the_wheel_new_keypoints_train_test(site, tmp_path):
    """The README's own-keypoints path after a plain install, from a folder of the
    user's: ``genloc-new-keypoints`` on a COCO export (the Animal-Pose sample, --arch
    tiny) writes a config under the working directory whose recipe is the installed
    package's; ``genloc-train`` and ``genloc-test`` run it."""
    target, _ = site
    shutil.copytree(osp.join(TEST_DATA, 'animalpose'), tmp_path / 'cats')
    out = _run('genloc-new-keypoints', 'cats', '--train', 'cats/test_animalpose.json',
               '--val', 'cats/test_animalpose.json', '--img-root', 'cats', '--arch', 'tiny',
               '--epochs', '4', cwd=tmp_path, site=target, script=True).stdout
    config = out.splitlines()[-1]
    assert config == osp.join('configs', 'custom', 'genloc_tiny_cats-128x128.py'), out
    text = (tmp_path / config).read_text()
    base = target / 'genloc_mmpose' / '.mim' / 'configs' / TINY
    assert f"_base_ = [{str(base)!r}]" in text  # the installed recipe, by absolute path
    assert f'genloc-train {config}' in out and 'tools/' not in out
    _run('genloc-train', config, '--work-dir', 'work', cwd=tmp_path, site=target, script=True)
    ckpt = (tmp_path / 'work' / 'last_checkpoint').read_text().strip()
    assert ckpt.endswith('iter_4.pth') and osp.isfile(ckpt)
    _run('genloc-test', config, ckpt, '--work-dir', 'work', cwd=tmp_path, site=target,
         script=True)
    metrics = test_metrics(str(tmp_path / 'work'))
    assert 0 <= metrics['coco/AP'] <= 1 and metrics['coco/AR'] >= 0
    assert not glob.glob(str(target / 'genloc_mmpose' / '**' / 'work_dirs'), recursive=True)


@pytest.mark.slow
def test_demo_of_the_wheel_prepares_its_data_and_leaves_the_apps_model(site, installed_demo):
    target, _ = site
    cwd, log = installed_demo
    mini_sd = target / 'genloc_mmpose' / '.mim' / 'demo' / 'mini-sd'
    assert (mini_sd / 'unet' / 'config.json').is_file()  # the prior ships in the wheel
    data = cwd / 'work_dirs' / 'demo' / 'creatures' / 'data'
    with open(data / 'annotations' / 'creatures_pool.json') as f:
        pool = json.load(f)
    with open(data / 'annotations' / 'creatures_test.json') as f:
        test = json.load(f)
    assert (len(pool['images']), len(test['images'])) == (1000, 300)
    assert all((data / 'images' / im['file_name']).is_file() for im in test['images'][:4])
    for row in ('GenLoc, names alone (no training)', 'GenLoc on the mini-SD prior',
                'GenLoc on random weights', "MMPose's ResNet-18, from scratch"):
        assert row in log, log[-3000:]
    served = Config.fromfile(str(cwd / 'work_dirs' / 'demo' / 'genloc_demo.py'))
    assert osp.samefile(served.model.backbone.pretrained, mini_sd)
    assert (cwd / 'work_dirs' / 'demo' / 'genloc_demo.pth').is_file()


@pytest.mark.slow
def test_app_of_the_wheel_serves_the_demo_model(site, installed_demo):
    """``genloc-app`` with no arguments, where the demo ran: it finds the demo's model
    under the working directory and the example creatures in the package."""
    target, _ = site
    cwd, _ = installed_demo
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        port = sock.getsockname()[1]
    log = cwd / 'app.log'
    with open(log, 'w') as out:
        proc = subprocess.Popen([str(target / 'bin' / 'genloc-app'), '--device', 'cpu',
                                 '--port', str(port)], cwd=cwd, stdout=out,
                                stderr=subprocess.STDOUT,
                                env=dict(ENV, PYTHONPATH=str(target)))
    try:
        deadline = time.time() + 180
        while True:
            assert proc.poll() is None, log.read_text()[-3000:]
            try:
                page = urllib.request.urlopen(f'http://127.0.0.1:{port}/config',
                                              timeout=5).read().decode()
                break
            except OSError:
                assert time.time() < deadline, log.read_text()[-3000:]
                time.sleep(0.5)
        # the Look tab's examples are the creatures shipped in the package
        examples = target / 'genloc_mmpose' / '.mim' / 'demo' / 'data' / 'creatures'
        assert 'test_000000.jpg' in page and osp.isdir(examples)
    finally:
        proc.terminate()
        proc.wait(30)


@pytest.mark.slow
def test_label_studio_backend_of_the_wheel_serves_the_demo_model(site, installed_demo):
    """``genloc-label-studio`` from the wheel where the demo ran: the labelling config of
    the demo model's keypoints, and ``serve`` with no model arguments pre-annotating a
    shipped creature through the backend protocol's ``/predict``."""
    import requests
    target, _ = site
    cwd, _ = installed_demo
    xml = _run('genloc-label-studio', 'config', '--checkpoint',
               'work_dirs/demo/genloc_demo.pth', '--object', 'creature', cwd=cwd,
               site=target, script=True).stdout
    from genloc_mmpose.labelling.label_studio import LabellingConfig
    config = LabellingConfig.parse(xml)
    assert len(config.names) == 18 and config.box_label == 'creature'
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        port = sock.getsockname()[1]
    log = cwd / 'label_studio_backend.log'
    with open(log, 'w') as out:
        proc = subprocess.Popen([str(target / 'bin' / 'genloc-label-studio'), 'serve',
                                 '--device', 'cpu', '--port', str(port)], cwd=cwd,
                                stdout=out, stderr=subprocess.STDOUT,
                                env=dict(ENV, PYTHONPATH=str(target)))
    url = f'http://127.0.0.1:{port}'
    try:
        deadline = time.time() + 180
        while True:
            assert proc.poll() is None, log.read_text()[-3000:]
            try:
                assert requests.get(f'{url}/health', timeout=5).json()['status'] == 'UP'
                break
            except requests.RequestException:
                assert time.time() < deadline, log.read_text()[-3000:]
                time.sleep(0.5)
        image = target / 'genloc_mmpose' / '.mim' / 'demo' / 'data' / 'creatures' / \
            'test_000000.jpg'
        reply = requests.post(f'{url}/predict', timeout=300, json=dict(
            project='1.0', label_config=xml, tasks=[dict(id=1, data=dict(image=str(image)))]))
        assert reply.ok, reply.text
        [pred] = reply.json()['results']
        assert pred['model_version'] == 'genloc-genloc_demo'
        from genloc_mmpose.app.predict import stored_score_thr
        thr = stored_score_thr(str(cwd / 'work_dirs' / 'demo' / 'genloc_demo.pth'))
        boxes = [r for r in pred['result'] if r['type'] == 'rectanglelabels']
        points = [r for r in pred['result'] if r['type'] == 'keypointlabels']
        # the whole image, and the keypoints at or over the model's own threshold
        assert len(boxes) == 1 and boxes[0]['value']['width'] == pytest.approx(100)
        assert points and all(r['score'] >= thr for r in points), (thr, pred)
        assert {r['value']['keypointlabels'][0] for r in points} <= set(config.names)
        assert all(0 <= r['value']['x'] <= 100 and 0 <= r['value']['y'] <= 100
                   for r in pred['result'])
    finally:
        proc.terminate()
        proc.wait(30)


@pytest.mark.slow
def test_teach_of_the_wheel_trains_to_completion(site, tmp_path):
    """The Teach tab's training job from the installed package (its training process
    started through the package, ``python -m genloc_mmpose.launcher``)."""
    target, _ = site
    script = f"""import json, time
from genloc_mmpose.app.labels import LabelSet
from genloc_mmpose.app.teach import TrainJob
labels = LabelSet()
labels.set_keypoints('person', ['nose', 'left_eye', 'right_eye'], [])
labels.add_images({[osp.join(COCO, f) for f in ('000000000785.jpg', '000000040083.jpg',
                                                  '000000196141.jpg')]!r}, 'images')
for _ in range(3):
    for x, y in ((300, 100), (290, 90), (310, 90)):
        labels.click(x, y)
    labels.go(1)
job = TrainJob.from_labels(labels, 'run', epochs=2)
job.proc.wait(600)
print(json.dumps(dict(state=job.state, checkpoint=job.checkpoint(), total=job.total)))
"""
    out = _run('-c', script, cwd=tmp_path, site=target)
    result = json.loads(out.stdout.splitlines()[-1])
    assert result['state'] == 'done', (tmp_path / 'run' / 'train.log').read_text()[-3000:]
    assert result['checkpoint'].startswith(str(tmp_path / 'run' / 'work'))
    assert result['checkpoint'].endswith(f"iter_{result['total']}.pth")


# The tests below use the shared overfit checkpoint (conftest.coco_ckpt): last in
# this file, so that under xdist its training on another worker is done by then.
@pytest.fixture(scope='session')
def mmpose_trained(site):
    """MMPose's own tools/train.py on the shipped tiny config (custom_imports), a
    few iterations: (config, work_dir, checkpoint)."""
    target, cwd = site
    config = target / 'genloc_mmpose' / '.mim' / 'configs' / TINY
    work_dir = cwd / 'mmpose_tools'
    _run(osp.join(MMPOSE_MIM, 'tools', 'train.py'), str(config), '--work-dir', str(work_dir),
         '--cfg-options', *data_options(COCO), 'train_cfg.max_iters=4',
         'default_hooks.checkpoint.interval=4', cwd=cwd, site=target)
    return config, work_dir, work_dir / 'iter_4.pth'


def test_mmpose_tools_train_and_test_shipped_config(site, mmpose_trained, coco_ckpt):
    """MMPose's train.py writes a checkpoint of the shipped config holding what the
    overfit of tests/test_e2e.py holds (the same config, 300 iterations, trained in
    process); MMPose's test.py scores that overfit at the AP of that test."""
    import torch
    target, cwd = site
    config, _, ckpt = mmpose_trained
    import genloc_mmpose  # noqa: F401  (weights_only allow-list)
    written, overfit = (torch.load(path, weights_only=True) for path in (ckpt, coco_ckpt[1]))
    assert written['meta']['iter'] == 4 and overfit['meta']['iter'] == 300
    assert {k: v.shape for k, v in written['state_dict'].items()} == \
        {k: v.shape for k, v in overfit['state_dict'].items()}
    work_dir = cwd / 'mmpose_tools_overfit'
    _run(osp.join(MMPOSE_MIM, 'tools', 'test.py'), str(config), coco_ckpt[1], '--work-dir',
         str(work_dir), '--cfg-options', *data_options(COCO), cwd=cwd, site=target)
    assert test_metrics(str(work_dir))['coco/AP'] >= 0.9


def test_mmpose_inferencer_demo(site, coco_ckpt):
    target, cwd = site
    config = target / 'genloc_mmpose' / '.mim' / 'configs' / TINY
    out = cwd / 'demo_out'
    image = osp.join(COCO, '000000000785.jpg')
    _run(osp.join(MMPOSE_MIM, 'demo', 'inferencer_demo.py'), image, '--pose2d', str(config),
         '--pose2d-weights', coco_ckpt[1], '--det-model', 'whole_image', '--device', 'cpu',
         '--pred-out-dir', str(out), cwd=cwd, site=target)
    with open(out / '000000000785.json') as f:
        person, = json.load(f)
    keypoints = np.array(person['keypoints'])
    assert keypoints.shape == (17, 2) and np.isfinite(keypoints).all()
    # the same as MMPoseInferencer here, from the checkout (the whole-image box is
    # padded to the crop's aspect ratio: keypoints may fall outside the image)
    from mmpose.apis import MMPoseInferencer
    inferencer = MMPoseInferencer(pose2d=str(config), pose2d_weights=coco_ckpt[1],
                                  det_model='whole_image', device='cpu')
    expected = next(inferencer(image))['predictions'][0][0]['keypoints']
    np.testing.assert_allclose(keypoints, expected, atol=1e-3)


@pytest.mark.long  # 40 s: past make test's budget, in make test-long
def test_mim_train_and_test_user_config(site, coco_ckpt):
    """``mim train/test genloc_mmpose`` (the package's .mim/tools) on a config that
    inherits ``genloc_mmpose::``: the overfit checkpoint scores its AP, and a short
    training runs."""
    pytest.importorskip('mim')
    target, cwd = site
    ckpt = coco_ckpt[1]
    (cwd / 'user_tiny.py').write_text(USER_CONFIG)
    work_dir = cwd / 'mim'
    _run('-m', 'mim', 'test', 'genloc_mmpose', 'user_tiny.py', '--checkpoint', str(ckpt),
         '--work-dir', str(work_dir / 'test'), cwd=cwd, site=target)
    assert test_metrics(str(work_dir / 'test'))['coco/AP'] >= 0.9
    _run('-m', 'mim', 'train', 'genloc_mmpose', 'user_tiny.py', '--work-dir',
         str(work_dir / 'train'), '--cfg-options', 'train_cfg.max_iters=4', cwd=cwd,
         site=target)
    assert osp.isfile(work_dir / 'train' / 'iter_4.pth')
