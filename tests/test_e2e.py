"""End to end in stock MMPose, through tools/train.py and tools/test.py.

The tiny random-weight config is trained on the real COCO / AP-10K sample images
(../shared/data) and evaluated on the same data: an overfit that only a consistent
chain (pipeline, affine, codec, CKHE, HEL, decode, flip, back-projection, metric)
can pass.
"""
import glob
import json
import os
import os.path as osp
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import torch

from conftest import REPO, SHARED_DATA

TINY = osp.join(REPO, 'configs', 'genloc', 'tiny')
COCO_CFG = osp.join(TINY, 'genloc_tiny_1xb12-300it_coco-64x48.py')
AP10K_CFG = osp.join(TINY, 'genloc_tiny_1xb2-200it_ap10k-64x64.py')
COCO = osp.join(SHARED_DATA, 'coco') + '/'
AP10K = osp.join(SHARED_DATA, 'ap10k') + '/'
ENV = dict(os.environ, OMP_NUM_THREADS='2', PYTHONUNBUFFERED='1')


def run_tool(*args, check=True, timeout=900):
    proc = subprocess.run([sys.executable, *args], cwd=REPO, env=ENV, capture_output=True,
                          text=True, timeout=timeout)
    if check and proc.returncode != 0:
        raise AssertionError(f'{args} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-5000:]}')
    return proc


def data_options(root, ann='test_coco.json'):
    return [f'train_dataloader.dataset.data_root={root}',
            f'val_dataloader.dataset.data_root={root}',
            f'test_dataloader.dataset.data_root={root}',
            f'val_evaluator.ann_file={root}{ann}',
            f'test_evaluator.ann_file={root}{ann}']


def test_metrics(work_dir):
    """Metrics of the newest test run in work_dir (mmengine's <timestamp>.json)."""
    files = sorted(glob.glob(osp.join(work_dir, '*', '*.json')), key=osp.getmtime)
    with open(files[-1]) as f:
        return json.load(f)


test_metrics.__test__ = False


@pytest.fixture(scope='module')
def coco_ckpt(tmp_path_factory):
    work_dir = str(tmp_path_factory.mktemp('coco'))
    run_tool('tools/train.py', COCO_CFG, '--work-dir', work_dir, '--cfg-options',
             *data_options(COCO))
    ckpt = osp.join(work_dir, 'iter_300.pth')
    assert osp.isfile(ckpt)
    return work_dir, ckpt


def test_overfit_coco_sample(coco_ckpt):
    work_dir, ckpt = coco_ckpt
    run_tool('tools/test.py', COCO_CFG, ckpt, '--work-dir', work_dir, '--cfg-options',
             *data_options(COCO))
    metrics = test_metrics(work_dir)
    assert metrics['coco/AP'] >= 0.9, metrics


def test_checkpoint_loads_weights_only_and_carries_dataset_meta(coco_ckpt):
    _, ckpt = coco_ckpt
    import genloc_mmpose  # noqa: F401  (allow-lists mmengine's checkpoint classes)
    state = torch.load(ckpt, weights_only=True)
    meta = state['meta']['dataset_meta']
    assert meta['dataset_name'] == 'coco' and meta['num_keypoints'] == 17
    assert isinstance(meta['sigmas'], np.ndarray)
    assert {'optimizer', 'message_hub', 'param_schedulers'} <= set(state)


def test_detector_boxes_from_bbox_file(coco_ckpt):
    work_dir, ckpt = coco_ckpt
    det_dir = osp.join(work_dir, 'det')
    run_tool('tools/test.py', COCO_CFG, ckpt, '--work-dir', det_dir, '--cfg-options',
             *data_options(COCO),
             f'test_dataloader.dataset.bbox_file={COCO}test_coco_det_AP_H_56.json')
    metrics = test_metrics(det_dir)
    # detector boxes differ from the GT boxes the model overfit: lower, but real
    assert 0.3 < metrics['coco/AP'] <= 1.0, metrics


def test_overfit_ap10k_sample(tmp_path):
    work_dir = str(tmp_path)
    options = data_options(AP10K, 'test_ap10k.json')
    run_tool('tools/train.py', AP10K_CFG, '--work-dir', work_dir, '--cfg-options', *options)
    run_tool('tools/test.py', AP10K_CFG, osp.join(work_dir, 'iter_200.pth'), '--work-dir',
             work_dir, '--cfg-options', *options)
    metrics = test_metrics(work_dir)
    assert metrics['coco/AP'] >= 0.9, metrics


def _det_config(name):
    import mmpose
    return osp.join(osp.dirname(mmpose.__file__), '.mim', 'demo', 'mmdetection_cfg', name)


def test_inferencer_detector_boxes_and_whole_image(coco_ckpt, tmp_path):
    from mmpose.apis import MMPoseInferencer
    _, ckpt = coco_ckpt
    img = osp.join(COCO, '000000000785.jpg')
    image_hw = (425, 640)

    # top-down with an mmdet person detector (random weights offline: keep every box)
    inferencer = MMPoseInferencer(
        pose2d=COCO_CFG, pose2d_weights=ckpt, device='cpu',
        det_model=_det_config('rtmdet_nano_320-8xb32_coco-person.py'), det_cat_ids=[0])
    result = next(inferencer(img, bbox_thr=0.0, vis_out_dir=str(tmp_path / 'det')))
    people = result['predictions'][0]
    assert len(people) > 0
    keypoints = np.array([p['keypoints'] for p in people])
    assert keypoints.shape == (len(people), 17, 2)
    assert osp.isfile(tmp_path / 'det' / '000000000785.jpg')

    # given boxes: the GT box of the person, keypoints land inside the image
    inferencer = MMPoseInferencer(pose2d=COCO_CFG, pose2d_weights=ckpt, device='cpu',
                                  det_model='whole_image')
    with open(osp.join(COCO, 'test_coco.json')) as f:
        ann = next(a for a in json.load(f)['annotations'] if a['image_id'] == 785)
    x, y, w, h = ann['bbox']
    result = next(inferencer(img, bboxes=[[x, y, x + w, y + h]]))
    person = result['predictions'][0]
    assert len(person) == 1
    kpts = np.array(person[0]['keypoints'])
    gt = np.array(ann['keypoints']).reshape(17, 3)
    visible = gt[:, 2] > 0
    # the overfit model finds this training person's keypoints (error << box size)
    assert np.median(np.linalg.norm(kpts[visible] - gt[visible, :2], axis=1)) < 0.1 * h

    # whole image as the box, on an array input
    import cv2
    result = next(inferencer(cv2.imread(img)))
    whole = np.array(result['predictions'][0][0]['keypoints'])
    assert whole.shape == (17, 2)
    assert (whole >= -1).all() and (whole[:, 0] <= image_hw[1]).all() and (
        whole[:, 1] <= image_hw[0]).all()


def test_torchrun_two_processes_then_test(tmp_path):
    work_dir = str(tmp_path)
    options = data_options(COCO) + [
        'train_cfg.max_iters=4', 'train_dataloader.batch_size=2',
        'default_hooks.checkpoint.interval=4', 'default_hooks.logger.interval=1']
    env = dict(ENV, PYTHON=sys.executable, OMP_NUM_THREADS='1', PORT='29533')
    proc = subprocess.run(
        ['bash', 'tools/dist_train.sh', COCO_CFG, '2', '--work-dir', work_dir,
         '--cfg-options', *options],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-5000:]
    log = proc.stdout + proc.stderr
    assert 'Distributed launcher: pytorch' in log or 'distributed' in log.lower()
    assert 'Iter(train) [4/4]' in log
    run_tool('tools/test.py', COCO_CFG, osp.join(work_dir, 'iter_4.pth'), '--work-dir',
             work_dir, '--cfg-options', *data_options(COCO))
    assert 0 <= test_metrics(work_dir)['coco/AP'] <= 1


def test_resume_after_kill_with_slim_checkpoints(tmp_path, sd_folder):
    folder, _, _ = sd_folder
    work_dir = str(tmp_path)
    options = data_options(COCO) + [
        f'model.backbone.pretrained={folder}', 'train_cfg.max_iters=24',
        'param_scheduler.0.T_max=24', 'train_dataloader.batch_size=2',
        'default_hooks.checkpoint.interval=4', 'default_hooks.logger.interval=1']
    cmd = [sys.executable, 'tools/train.py', COCO_CFG, '--work-dir', work_dir,
           '--cfg-options', *options]
    proc = subprocess.Popen(cmd, cwd=REPO, env=ENV, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    deadline = time.time() + 300
    while not osp.isfile(osp.join(work_dir, 'iter_8.pth')) and time.time() < deadline:
        assert proc.poll() is None, 'training ended before it could be interrupted'
        time.sleep(0.2)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not osp.isfile(osp.join(work_dir, 'iter_24.pth'))
    with open(osp.join(work_dir, 'last_checkpoint')) as f:
        last = f.read().strip()
    killed = torch.load(last, weights_only=True)
    done_iters = killed['meta']['iter']
    assert done_iters >= 8
    # slim: only conditions and LoRA are saved; the optimizer state is there
    assert all(k == 'backbone.conditions' or '.lora_' in k for k in killed['state_dict'])
    assert killed['optimizer']['state']

    resumed = run_tool(*cmd[1:], '--resume')
    log = resumed.stdout + resumed.stderr
    assert f'resumed epoch: 0, iter: {done_iters}' in log
    assert 'missing keys' not in log
    assert f'Iter(train) [{done_iters + 1}/24]' in log and 'Iter(train) [ 1/24]' not in log
    final = torch.load(osp.join(work_dir, 'iter_24.pth'), weights_only=True)
    losses_before = killed['message_hub']['log_scalars']['train/loss']._log_history
    losses_after = final['message_hub']['log_scalars']['train/loss']._log_history
    # one loss curve across the interruption: the history up to the kill is kept
    assert len(losses_after) == 24
    np.testing.assert_array_equal(losses_after[:done_iters], losses_before)
