"""Faults and bad inputs: each gets a clear error naming the thing and the fix, and
nothing is half-written (docs/reliability.md lists them with these tests)."""
import glob
import json
import os
import os.path as osp
import re
import shutil
import signal
import subprocess
import sys
import time

import cv2
import pytest
import torch

from conftest import REPO, TEST_DATA
from test_e2e import COCO, COCO_CFG, ENV, data_options, run_tool

TRAIN = [sys.executable, 'tools/train.py', COCO_CFG]


def _all_checkpoints_finite(work_dir):
    import genloc_mmpose  # noqa: F401  (weights_only allow-list)
    files = glob.glob(osp.join(work_dir, '*.pth'))
    for path in files:
        state = torch.load(path, weights_only=True)['state_dict']
        assert all(torch.isfinite(v).all() for v in state.values()
                   if torch.is_tensor(v) and v.is_floating_point()), path
    return files


@pytest.mark.slow
def test_diverging_run_stops_before_writing_non_finite_weights(tmp_path):
    """lr=1e6: the loss is NaN from iteration 2. Training stops there with an error
    naming the iteration and the last good checkpoint; every checkpoint on disk is
    finite."""
    work_dir = str(tmp_path / 'work')
    proc = run_tool(*TRAIN[1:], '--work-dir', work_dir, '--cfg-options',
                    *data_options(COCO), 'optim_wrapper.optimizer.lr=1e6',
                    'train_cfg.max_iters=20', 'default_hooks.checkpoint.interval=1',
                    check=False)
    log = proc.stdout + proc.stderr
    assert proc.returncode != 0
    match = re.search(r'InvalidLossError: Training stopped at iteration (\d+) .*'
                      r'Last good checkpoint: (\S+);', log)
    assert match, log[-3000:]
    iteration, last = int(match.group(1)), match.group(2)
    assert iteration == 2 and last == osp.join(work_dir, 'iter_1.pth')
    assert 'lower the learning rate (optim_wrapper.optimizer.lr' in log
    assert [osp.basename(f) for f in _all_checkpoints_finite(work_dir)] == ['iter_1.pth']


class _Runner:
    """What InvalidLossHook reads of a runner."""

    def __init__(self, work_dir, wrapper):
        self.work_dir, self.optim_wrapper = str(work_dir), wrapper
        self.iter, self.epoch = 6, 0


@pytest.mark.parametrize('on_invalid', ['raise', 'skip'])
def test_invalid_loss_is_stopped_or_skipped_before_the_update(tmp_path, on_invalid):
    from mmengine.optim import OptimWrapper

    from genloc_mmpose.engine import InvalidLossError, InvalidLossHook
    weight = torch.nn.Parameter(torch.ones(3))
    wrapper = OptimWrapper(torch.optim.SGD([weight], lr=0.1))
    runner = _Runner(tmp_path, wrapper)
    (tmp_path / 'last_checkpoint').write_text(str(tmp_path / 'iter_5.pth'))
    hook = InvalidLossHook(on_invalid=on_invalid, max_skips=2)
    hook.before_train(runner)
    nan_loss = (weight * float('nan')).sum()
    if on_invalid == 'raise':
        with pytest.raises(InvalidLossError, match=r'iteration 7 .*loss is nan.*Last good '
                           r'checkpoint: .*iter_5\.pth'):
            wrapper.update_params(nan_loss)
        assert weight.grad is None and torch.equal(weight.detach(), torch.ones(3))
        return
    wrapper.update_params(nan_loss)  # dropped: no gradient, no step
    assert weight.grad is None and torch.equal(weight.detach(), torch.ones(3))
    assert hook.skipped == 1
    hook.after_train_iter(runner, 0, outputs=dict(loss=nan_loss.detach()))  # no raise
    wrapper.update_params(weight.sum())  # a finite loss updates as usual
    torch.testing.assert_close(weight.detach(), torch.full((3, ), 0.9))
    for _ in range(2):
        wrapper.update_params((weight * float('inf')).sum())
    assert hook.skipped == 3
    with pytest.raises(InvalidLossError):  # a third invalid loss in a row
        wrapper.update_params((weight * float('nan')).sum())


def test_non_finite_checkpoint_is_refused(tmp_path):
    from genloc_mmpose.engine import InvalidLossError, InvalidLossHook
    runner = _Runner(tmp_path, None)
    hook = InvalidLossHook()
    hook.before_save_checkpoint(runner, dict(state_dict=dict(a=torch.ones(2))))
    with pytest.raises(InvalidLossError, match=r'Refusing to save .*\[\'b\'\]'):
        hook.before_save_checkpoint(runner, dict(state_dict=dict(
            a=torch.ones(2), b=torch.tensor([1.0, float('inf')]))))


@pytest.mark.slow
@pytest.mark.parametrize('frozen_file', [
    'iter_12.pth',
    # 33 s: past make test's budget, in make test-long
    pytest.param('last_checkpoint:3', marks=pytest.mark.long)])
def test_kill_in_the_middle_of_a_save_then_resume(tmp_path, frozen_file):
    """SIGKILL while iter_12.pth (or last_checkpoint) is half written, keeping one
    checkpoint (max_keep_ckpts=1, the hardest case: mmengine deletes the kept one
    before writing the next). last_checkpoint still names a complete checkpoint,
    and --resume continues from it to the end."""
    work_dir = str(tmp_path / 'work')
    marker = str(tmp_path / 'frozen')
    options = data_options(COCO) + [
        'train_cfg.max_iters=16', 'param_scheduler.0.T_max=16',
        'train_dataloader.batch_size=2', 'default_hooks.checkpoint.interval=4',
        'default_hooks.checkpoint.max_keep_ckpts=1', 'default_hooks.logger.interval=1']
    args = ['--work-dir', work_dir, '--cfg-options', *options]
    proc = subprocess.Popen(
        [sys.executable, osp.join('tests', 'kill_helper.py'), frozen_file, marker,
         'tools/train.py', COCO_CFG, *args],
        cwd=REPO, env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 300
    while not osp.exists(marker) and time.time() < deadline:
        assert proc.poll() is None, 'training ended before the save to interrupt'
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    with open(osp.join(work_dir, 'last_checkpoint')) as f:
        last = f.read().strip()
    # frozen writing iter_12.pth: the last complete one is iter_8.pth; frozen writing
    # last_checkpoint the third time (after iter_12.pth is complete): iter_8.pth too
    expected = 'iter_8.pth'
    assert osp.basename(last) == expected
    import genloc_mmpose  # noqa: F401
    assert torch.load(last, weights_only=True)['meta']['iter'] == int(expected[5:-4])
    # the checkpoint last_checkpoint names was never removed (mmengine removed the
    # kept one before saving the next)
    resumed = run_tool('tools/train.py', COCO_CFG, *args, '--resume')
    log = resumed.stdout + resumed.stderr
    assert f'resumed epoch: 0, iter: {int(expected[5:-4])}' in log
    assert 'Iter(train) [16/16]' in log
    assert sorted(osp.basename(f) for f in _all_checkpoints_finite(work_dir)) == \
        ['iter_16.pth']


@pytest.mark.parametrize('dies', [False, True])
def test_checkpoint_hook_saves_before_it_removes(tmp_path, dies):
    """AtomicCheckpointHook (max_keep_ckpts=1): the new checkpoint is complete and
    named by ``last_checkpoint`` before the outdated one goes; a save that dies
    half-way leaves the kept checkpoint, ``last_checkpoint`` naming it, and no
    partial or temporary file."""
    from mmengine.logging import MessageHub, MMLogger
    from mmengine.runner.checkpoint import save_checkpoint

    from genloc_mmpose.engine import AtomicCheckpointHook

    class Runner:
        work_dir = str(tmp_path)
        message_hub = MessageHub.get_instance(f'test_checkpoint_hook_{dies}')
        logger = MMLogger.get_instance('test_checkpoint_hook')

        def save_checkpoint(self, out_dir, filename, *args, **kwargs):
            state = dict(state_dict=dict(w=torch.ones(1000)))
            if dies and filename.startswith('iter_2.pth'):
                with open(osp.join(out_dir, filename), 'wb') as f:
                    f.write(b'half')
                raise KeyboardInterrupt
            save_checkpoint(state, osp.join(out_dir, filename))

    hook = AtomicCheckpointHook(interval=1, by_epoch=False, max_keep_ckpts=1)
    runner = Runner()
    hook.before_train(runner)
    hook._save_checkpoint_with_step(runner, 1, {})
    if dies:
        with pytest.raises(KeyboardInterrupt):
            hook._save_checkpoint_with_step(runner, 2, {})
    else:
        hook._save_checkpoint_with_step(runner, 2, {})
    kept = 'iter_1.pth' if dies else 'iter_2.pth'
    assert sorted(os.listdir(tmp_path)) == sorted([kept, 'last_checkpoint'])
    assert (tmp_path / 'last_checkpoint').read_text() == str(tmp_path / kept)
    assert torch.load(tmp_path / kept, weights_only=True)['state_dict']['w'].sum() == 1000


def test_num_keypoints_zero_is_an_error(build_backbone):
    for bad in (0, -3, 2.5, None):
        with pytest.raises(ValueError, match=r'num_keypoints must be a positive integer'):
            build_backbone(num_keypoints=bad)


def test_nan_input_crop_is_an_error(build_backbone, images):
    backbone = build_backbone(num_keypoints=3)
    images = images.clone()
    images[1, 0, 5, 5] = float('nan')
    with pytest.raises(ValueError, match=r'input crop\(s\) \[1\] .*NaN or Inf'):
        backbone(images)
    images[1, 0, 5, 5] = float('inf')
    with pytest.raises(ValueError, match=r'\[1\]'):
        backbone(images)


def test_non_finite_maps_name_the_image():
    """Maps from non-finite weights: the head's predict names the images instead of
    returning finite-looking keypoints."""
    from test_codec_head import _head, _layer_maps, _samples
    maps = list(_layer_maps())
    maps[0] = maps[0].clone()
    maps[0][1, 4] = float('nan')
    samples = _samples()
    for i, s in enumerate(samples):
        s.set_metainfo(dict(img_path=f'img{i}.jpg'))
    with pytest.raises(ValueError, match=r"1 crop\(s\) of \['img1.jpg'\]"):
        _head().predict(tuple(maps), samples)


@pytest.mark.parametrize('kind', ['truncated.safetensors', 'text.safetensors',
                                  'truncated.ckpt', 'text.ckpt', 'folder'])
def test_unreadable_weights_name_the_file(tmp_path, kind, sd_folder):
    from genloc_mmpose.models.sd_weights import load_sd_weights
    if kind == 'folder':  # a diffusers folder whose U-Net file was cut short
        folder = tmp_path / 'sd'
        shutil.copytree(sd_folder[0], folder)
        weights = folder / 'unet' / 'diffusion_pytorch_model.safetensors'
        weights.write_bytes(weights.read_bytes()[:1000])
        path, named = str(folder), str(folder / 'unet')
    else:
        stem, suffix = kind.split('.')
        path = str(tmp_path / f'model.{suffix}')
        if stem == 'truncated':
            state = {'model.diffusion_model.x': torch.ones(1000)}
            if suffix == 'safetensors':
                from safetensors.torch import save_file
                save_file(state, path)
            else:
                torch.save(state, path)
            with open(path, 'rb') as f:
                data = f.read()
            with open(path, 'wb') as f:
                f.write(data[:len(data) // 2])
        else:
            with open(path, 'w') as f:
                f.write('<html>404 Not Found</html>\n')
        named = path
    with pytest.raises(ValueError) as err:
        load_sd_weights(path, {}, {})
    message = str(err.value)
    assert named in message and 'download it again' in message, message


def _corrupt_copy(tmp_path):
    """The COCO sample with one image truncated and one replaced by text."""
    root = tmp_path / 'coco'
    shutil.copytree(COCO, root)
    data = (root / '000000040083.jpg').read_bytes()
    (root / '000000040083.jpg').write_bytes(data[:len(data) // 2])
    (root / '000000196141.jpg').write_text('not an image')
    return str(root) + '/'


@pytest.mark.slow
def test_unreadable_training_image_is_named(tmp_path):
    root = _corrupt_copy(tmp_path)
    proc = run_tool(*TRAIN[1:], '--work-dir', str(tmp_path / 'work'), '--cfg-options',
                    *data_options(root), 'train_cfg.max_iters=2', check=False)
    log = proc.stdout + proc.stderr
    assert proc.returncode != 0
    # whichever corrupt image the shuffled loader reaches first
    assert re.search(r'UnreadableImageError: Cannot load image '
                     r'\S+/(000000040083|000000196141)\.jpg: '
                     r'.*(truncated|cannot be decoded).*on_unreadable="skip"', log), log[-3000:]


def test_unreadable_training_images_skipped_with_a_count(tmp_path, monkeypatch):
    """on_unreadable='skip': each unreadable file is logged with the running count,
    and the dataset draws a readable sample instead (MMEngine's redraw on None)."""
    from mmengine.config import Config
    from mmengine.registry import init_default_scope
    from mmpose.registry import DATASETS

    import genloc_mmpose.datasets.transforms.loading as loading
    init_default_scope('mmpose')
    warnings = []
    monkeypatch.setattr(loading, 'print_log', lambda msg, **kw: warnings.append(msg))
    cfg = Config.fromfile(COCO_CFG).train_dataloader.dataset
    cfg.update(data_root=_corrupt_copy(tmp_path))
    cfg.pipeline[0] = dict(type='GenLocLoadImage', on_unreadable='skip')
    dataset = DATASETS.build(cfg)
    samples = [dataset[i] for i in range(len(dataset))]
    assert len(samples) == len(dataset) and all(s is not None for s in samples)
    good = {'000000000785.jpg', '000000197388.jpg'}
    assert {osp.basename(s['data_samples'].img_path) for s in samples} <= good
    skipped = {osp.basename(p) for p in dataset.pipeline.transforms[0].skipped}
    assert skipped == {'000000040083.jpg', '000000196141.jpg'}
    assert any('truncated (2 unreadable images skipped so far)' in w
               or '(2 unreadable images skipped so far)' in w for w in warnings), warnings
    assert all(re.search(r'skipped \S+\.jpg: .* \(\d unreadable images skipped', w)
               for w in warnings)


@pytest.mark.parametrize('affine', ['TopdownAffine', None])
def test_deferred_decode_without_genloc_affine_fails_when_built(affine):
    """GenLocLoadImage(reduced_decode=True) followed by MMPose's TopdownAffine, or by
    no affine at all: an error naming the transform and the fix when the dataset or
    an inferencer's pipeline is built, instead of OpenCV's ("src is not a numpy
    array") inside cv2.warpAffine at the first sample."""
    from mmengine.config import Config
    from mmengine.dataset import Compose
    from mmengine.registry import init_default_scope
    from mmpose.registry import DATASETS

    import genloc_mmpose  # noqa: F401  (the check on build)
    init_default_scope('mmpose')
    cfg = Config.fromfile(COCO_CFG).train_dataloader.dataset
    cfg.update(data_root=COCO)
    cfg.pipeline[0] = dict(type='GenLocLoadImage', reduced_decode=True)
    assert [t['type'] for t in cfg.pipeline[1:3]] == ['GetBBoxCenterScale', 'TopdownAffine']
    cfg.pipeline[2].type = 'GenLocTopdownAffine'  # the fix: it builds and crops
    assert DATASETS.build(cfg)[0]['inputs'].shape == (3, 128, 96)
    if affine is None:
        del cfg.pipeline[2]
        where = 'no GenLocTopdownAffine follows it'
    else:
        cfg.pipeline[2].type = affine
        where = 'TopdownAffine (transform 3) would get them and cannot warp them'
    for build in (DATASETS.build, lambda cfg: Compose(cfg.pipeline)):
        with pytest.raises(ValueError) as error:
            build(cfg)
        message = str(error.value)
        assert message.startswith('GenLocLoadImage(reduced_decode=True) (transform 1 of the '
                                  'pipeline) hands on JPEGs undecoded'), message
        assert where in message and message.endswith(
            'Use GenLocTopdownAffine in place of TopdownAffine (the same arguments), or '
            'set reduced_decode=False in GenLocLoadImage.'), message


def test_bad_boxes_given_to_the_inferencer(tmp_path):
    from mmpose.apis import MMPoseInferencer
    img = osp.join(COCO, '000000000785.jpg')
    inferencer = MMPoseInferencer(pose2d=COCO_CFG, device='cpu', det_model='whole_image')
    height, width = cv2.imread(img).shape[:2]
    for box, message in (([10, 20, 10, 400], r'is 0 x 380 px'),
                         ([50, 60, 40, 80], r'is -10 x 20 px'),
                         ([width + 5, 0, width + 50, 40], None),
                         ([0, 0, float('nan'), 40], r'non-finite')):
        if message is None:  # off the image: a path input has no known size here,
            arr = cv2.imread(img)  # an array input has
            with pytest.raises(ValueError, match=rf'lies outside the {width} x {height}'):
                next(inferencer(arr, bboxes=[[box]]))
            continue
        with pytest.raises(ValueError, match=message):
            next(inferencer(img, bboxes=[[box]]))


def test_coco_export_names_stay_data(tmp_path):
    """Keypoint and category names that look like code, config syntax or MMEngine's
    {{ }} substitutions are written and read back as the same strings; nothing
    runs."""
    from mmengine.config import Config

    from genloc_mmpose.custom_keypoints import new_keypoint_config
    canary = tmp_path / 'pwned'
    evil = [
        f"a'); open({str(canary)!r}, 'w'); ('",
        f'b"""\nopen({str(canary)!r}, "w")\n"""',
        "{{ fileDirname }}", "{{$HOME}}", "{{_base_.codec}}", "{{{x}}}",
        "__import__('os').system('touch " + str(canary) + "')", "line\nbreak # c",
        "back\\slash",
    ]
    with open(osp.join(TEST_DATA, 'animalpose', 'test_animalpose.json')) as f:
        coco = json.load(f)
    names = coco['categories'][0]['keypoints']
    names[:len(evil)] = evil
    coco['categories'][0]['name'] = f"cat'\nopen({str(canary)!r}, 'w')\n'"
    ann = tmp_path / 'export.json'
    ann.write_text(json.dumps(coco))
    config, _ = new_keypoint_config('mine', str(ann), str(ann),
                                    osp.join(TEST_DATA, 'animalpose'), arch='tiny',
                                    out_dir=str(tmp_path / 'configs'))
    cfg = Config.fromfile(config)
    from mmpose.datasets.datasets.utils import parse_pose_metainfo
    meta = parse_pose_metainfo(cfg.train_dataloader.dataset.metainfo)
    assert [meta['keypoint_id2name'][i] for i in range(len(names))] == names
    assert not canary.exists()
