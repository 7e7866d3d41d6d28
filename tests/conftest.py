import copy
import glob
import json
import os
import os.path as osp
import pathlib
import subprocess
import sys

import pytest
import torch
from mmengine.config import Config

# `make test` runs the suite on pytest-xdist workers, one per core (-n 2 --dist
# loadfile), each with one thread (two OpenMP threads per worker on two cores spin
# against each other); a run without xdist keeps torch's default and gives tools 2
# threads.
XDIST = bool(os.environ.get('PYTEST_XDIST_WORKER'))
THREADS = '1' if XDIST else '2'
if XDIST:
    torch.set_num_threads(1)
REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
TEST_DATA = osp.join(REPO, 'tests', 'data')
TINY_CONFIG = osp.join(REPO, 'configs', 'genloc', 'tiny', 'genloc_tiny_1xb4-300it_coco-128x96.py')


def shared_once(tmp_path_factory, name, build):
    """``build(folder)`` once per test run, its JSON-able result shared by every
    pytest-xdist worker (pytest-xdist's documented recipe: a file lock in the
    workers' common temporary folder; a worker that needs it while another builds
    it waits). Without xdist, a plain call; the result through JSON either way."""
    if not XDIST:
        return json.loads(json.dumps(build(tmp_path_factory.mktemp(name))))
    from filelock import FileLock
    root = tmp_path_factory.getbasetemp().parent
    done = root / f'{name}.json'
    with FileLock(str(root / f'{name}.lock')):
        if not done.is_file():
            folder = root / name
            folder.mkdir()
            done.write_text(json.dumps(build(folder)))
        return json.loads(done.read_text())


# fixtures that train, install, serve or drive a browser: their tests are `slow`
# (pytest.ini; `make test-quick` leaves them out), as are the tests that start
# tools/*.py themselves (marked in their files)
SLOW_FIXTURES = {'coco_ckpt', 'wheel', 'site', 'installed_demo', 'wholebody_run',
                 'tiny_run', 'server', 'new_page', 'label_studio', 'backend'}


# The longest files first (pytest-xdist's loadfile hands out files in collection
# order): the short ones then fill the end of both workers instead of one worker idling
# while the other runs a long file (the suite's wall time). Measured in `make test`'s
# durations; test_labelling after test_install, whose first tests do not wait for the
# shared COCO model test_e2e trains.
LONG_FILES = ('test_install.py', 'test_e2e.py', 'test_mini_sd.py', 'test_export.py',
              'test_reliability.py', 'test_app.py', 'test_labelling.py')


def pytest_collection_modifyitems(items):
    for item in items:
        if SLOW_FIXTURES & set(item.fixturenames):
            item.add_marker(pytest.mark.slow)

    def rank(item):
        name = item.path.name
        return LONG_FILES.index(name) if name in LONG_FILES else len(LONG_FILES)

    items.sort(key=rank)  # stable: each file's own order is kept


@pytest.fixture(scope='session')
def tiny_cfg():
    return Config.fromfile(TINY_CONFIG)


@pytest.fixture
def build_backbone(tiny_cfg):
    """Build a tiny random GenLocBackbone; keyword overrides replace config keys."""
    from genloc_mmpose.models import GenLocBackbone

    def build(seed=0, **overrides):
        kwargs = copy.deepcopy(tiny_cfg.model.backbone.to_dict())
        kwargs.pop('type')
        # the tiny architecture with the method's training setup: frozen U-Net + LoRA
        kwargs.update(freeze_unet=True, lora=dict(
            r=8, lora_alpha=8, target_modules=['to_q', 'to_k', 'to_v', 'to_out.0']))
        kwargs.update(overrides)
        torch.manual_seed(seed)
        return GenLocBackbone(**kwargs)

    return build


@pytest.fixture
def images():
    torch.manual_seed(1)
    return torch.rand(2, 3, 64, 48) * 2 - 1


@pytest.fixture(scope='session')
def sd_folder(tmp_path_factory, tiny_cfg):
    """A local diffusers folder written with save_pretrained (the real-weights path),
    holding the tiny random U-Net and VAE: (folder, unet, vae)."""
    from diffusers import AutoencoderKL, UNet2DConditionModel
    folder = tmp_path_factory.mktemp('sd_tiny')
    torch.manual_seed(3)
    unet = UNet2DConditionModel.from_config(dict(tiny_cfg.model.backbone.unet_cfg))
    vae = AutoencoderKL.from_config(dict(tiny_cfg.model.backbone.vae_cfg))
    unet.save_pretrained(folder / 'unet')
    vae.save_pretrained(folder / 'vae')
    return str(folder), unet, vae


@pytest.fixture(scope='session')
def coco_ckpt(tmp_path_factory):
    """The tiny COCO config trained on the COCO sample (300 iterations, in this
    process with MMEngine's Runner, as tools/train.py would; the overfit of
    tests/test_e2e.py, shared by the tests that need a trained model):
    (work_dir, checkpoint)."""

    def train(folder):
        from mmengine.runner import Runner

        import genloc_mmpose  # noqa: F401
        from test_e2e import COCO, data_options
        cfg = Config.fromfile(TINY_CONFIG)
        cfg.merge_from_dict(dict(option.split('=', 1) for option in data_options(COCO)))
        cfg.work_dir = str(folder)
        # its own visualizer: MMEngine keeps one instance per name, and one left by an
        # earlier test in this process would write this run's scalars into its folder
        cfg.visualizer.name = 'visualizer_coco_ckpt'
        Runner.from_cfg(cfg).train()
        ckpt = osp.join(cfg.work_dir, 'iter_300.pth')
        assert osp.isfile(ckpt)
        return cfg.work_dir, ckpt

    return tuple(shared_once(tmp_path_factory, 'coco', train))


def run_python(*args, cwd, site=None, timeout=900, script=False):
    """``python ARGS`` (``script``: ARGS[0] is a console script in the install's bin/)
    in ``cwd`` with only the install ``site`` on PYTHONPATH."""
    env = dict(os.environ, OMP_NUM_THREADS=THREADS, PYTHONUNBUFFERED='1')
    if site:
        env['PYTHONPATH'] = str(site)
    cmd = [str(site / 'bin' / args[0]), *args[1:]] if script else [sys.executable, *args]
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=timeout)
    if proc.returncode != 0:
        raise AssertionError(f'{args} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-5000:]}')
    return proc


@pytest.fixture(scope='session')
def wheel(tmp_path_factory):
    """The wheel pip builds from the checkout's sdist."""

    def build(out):
        run_python('-c', 'from setuptools import build_meta; '
                   f'build_meta.build_sdist({str(out)!r})', cwd=REPO)
        sdist, = glob.glob(str(out / '*.tar.gz'))
        run_python('-m', 'pip', 'wheel', '-q', '--no-deps', '--no-build-isolation', '-w',
                   str(out), sdist, cwd=out)
        path, = glob.glob(str(out / '*.whl'))
        return path

    return shared_once(tmp_path_factory, 'dist', build)


@pytest.fixture(scope='session')
def site(wheel, tmp_path_factory):
    """A throw-away install of the wheel (no dependencies), and a folder outside the
    repository to run from: (site, cwd)."""

    def install(target):
        run_python('-m', 'pip', 'install', '-q', '--no-deps', '--no-index', '--target',
                   str(target), wheel, cwd=target)
        return str(target)

    target = pathlib.Path(shared_once(tmp_path_factory, 'site', install))
    return target, tmp_path_factory.mktemp('elsewhere')


@pytest.fixture(scope='session')
def installed_demo(site, tmp_path_factory):
    """``genloc-demo`` from the wheel, in a folder of the user's, at a token budget
    (4 labels, 2 iterations, 6 test creatures: the chain, not the numbers; the
    README's numbers come from `make demo`): (folder, its stdout + stderr)."""
    target, _ = site

    def demo(cwd):
        out = run_python('genloc-demo', '--labels', '4', '--iters', '2', '--test-images',
                         '6', cwd=cwd, site=target, script=True, timeout=1200)
        return str(cwd), out.stdout + out.stderr

    cwd, log = shared_once(tmp_path_factory, 'demo_user', demo)
    return pathlib.Path(cwd), log
