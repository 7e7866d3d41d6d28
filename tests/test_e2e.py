"""End to end in stock MMPose, through tools/train.py and tools/test.py.

The tiny random-weight config is trained on the real COCO / AP-10K sample images
(tests/data) and evaluated on the same data: an overfit that only a consistent
chain (pipeline, affine, codec, CKHE, HEL, decode, flip, back-projection, metric)
can pass.
"""
import glob
import json
import os
import os.path as osp
import re
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import torch

from conftest import REPO, TEST_DATA, THREADS

TINY = osp.join(REPO, 'configs', 'genloc', 'tiny')
COCO_CFG = osp.join(TINY, 'genloc_tiny_1xb4-300it_coco-128x96.py')
AP10K_CFG = osp.join(TINY, 'genloc_tiny_1xb2-150it_ap10k-128x128.py')
COCO = osp.join(TEST_DATA, 'coco') + '/'
AP10K = osp.join(TEST_DATA, 'ap10k') + '/'
ENV = dict(os.environ, OMP_NUM_THREADS=THREADS, PYTHONUNBUFFERED='1')


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


@pytest.mark.parametrize('config,root,ann', [
    (COCO_CFG, COCO, 'test_coco.json'), (AP10K_CFG, AP10K, 'test_ap10k.json')])
def test_ground_truth_maps_through_decode_and_metric(config, root, ann):
    """The chain without learning: the dataset pipeline's Gaussian targets, as maps,
    through the head's flip-test predict, the estimator's back-projection and
    CocoMetric give AP 1.0 (a coordinate or flip bug would not)."""
    from mmengine.config import Config
    from mmengine.dataset import pseudo_collate
    from mmengine.registry import init_default_scope
    from mmpose.registry import DATASETS, METRICS, MODELS
    init_default_scope('mmpose')
    cfg = Config.fromfile(config)
    dataset_cfg = cfg.val_dataloader.dataset
    dataset_cfg.update(data_root=root, ann_file=ann)
    # mmpose's usual crop (the tiny configs crop tighter, which cuts off a few
    # keypoints at the box edge: AP 0.98 even for perfect maps)
    dataset_cfg.pipeline[1] = dict(type='GetBBoxCenterScale', padding=1.25)
    dataset_cfg.pipeline.insert(-1, dict(type='GenerateTarget', encoder=cfg.codec))
    dataset = DATASETS.build(dataset_cfg)
    model = MODELS.build(cfg.model)
    metric = METRICS.build(dict(type='CocoMetric', ann_file=root + ann))
    metric.dataset_meta = dataset.metainfo
    batch = pseudo_collate([dataset[i] for i in range(len(dataset))])
    samples = batch['data_samples']
    maps = torch.stack([s.gt_fields.heatmaps for s in samples])
    maps = maps / maps.sum((-2, -1), keepdim=True).clamp_min(1e-12)
    flip_indices = samples[0].metainfo['flip_indices']
    flipped = maps.flip(-1)[:, flip_indices]  # what the flipped image should give
    preds = model.head.predict([(maps, ), (flipped, )], samples,
                               test_cfg=dict(flip_test=True))
    results = model.add_pred_to_datasample(preds, None, samples)
    metric.process([], [r.to_dict() for r in results])
    assert metric.evaluate(len(results))['coco/AP'] == pytest.approx(1.0)


def test_overfit_coco_sample(coco_ckpt):
    work_dir, ckpt = coco_ckpt
    run_tool('tools/test.py', COCO_CFG, ckpt, '--work-dir', work_dir, '--cfg-options',
             *data_options(COCO))
    metrics = test_metrics(work_dir)
    assert metrics['coco/AP'] >= 0.9, metrics


def test_decode_variants_score_the_checkpoint_as_its_validation(coco_ckpt):
    """``tools/misc/decode_variants.py``'s runner on the overfit checkpoint: the
    config's own decoding (dark5, no flip test) scores the AP of the training's last
    validation (same images, CocoMetric; the config as trained, which MMEngine dumped
    into the work dir); the other fusions are scored through the same path."""
    from genloc_mmpose.evaluation import decode_variants
    work_dir, ckpt = coco_ckpt
    config = osp.join(work_dir, osp.basename(COCO_CFG))
    [scalars] = glob.glob(osp.join(work_dir, '*', 'vis_data', 'scalars.json'))
    with open(scalars) as f:
        validation = [json.loads(line) for line in f if 'coco/AP' in line][-1]
    rows = decode_variants.run(config, ckpt, ['dark5', 'argmax', 'geometric-dark5',
                                                'layer0-dark5'], flip=False)
    assert rows['dark5']['AP'] == pytest.approx(validation['coco/AP'], abs=1e-9)
    assert rows['dark5']['AR'] == pytest.approx(validation['coco/AR'], abs=1e-9)
    assert all(0 <= m['AP'] <= 1 for m in rows.values())
    with pytest.raises(ValueError, match=r'layer9-dark5: the model has \d CKHE layers'):
        decode_variants.run(config, ckpt, ['layer9-dark5'])


def test_fusion_variants_against_their_definitions():
    """Bicubic of maps already at the heatmap size is the head's mean; the geometric
    mean of identical layers is that layer (normalised); finest keeps the finest."""
    import torch

    from genloc_mmpose.evaluation.decode_variants import fuse, parse_variant
    from genloc_mmpose.models.head import CorrelationMapHead
    head = CorrelationMapHead(decoder=dict(type='GenLocHeatmap', input_size=(32, 32),
                                           heatmap_size=(8, 8), sigma=1))
    torch.manual_seed(0)
    same = (torch.rand(2, 3, 8, 8), torch.rand(2, 3, 8, 8))
    torch.testing.assert_close(fuse(head, same, 'bicubic'), head(same))
    layer = torch.rand(2, 3, 8, 8)
    torch.testing.assert_close(fuse(head, (layer, layer), 'geometric'),
                               layer / layer.sum((-2, -1), keepdim=True))
    coarse = torch.rand(2, 3, 4, 4)
    torch.testing.assert_close(fuse(head, (coarse, layer), 'finest'), head((layer, )))
    assert parse_variant('bicubic-dark7', 3) == dict(
        fusion='bicubic', layers=None, codec=dict(refine='dark', blur_kernel_size=7))
    assert parse_variant('layer2-argmax', 3)['layers'] == [2]
    with pytest.raises(ValueError, match='unknown decoding variant'):
        parse_variant('dark', 3)


def test_checkpoint_loads_weights_only_and_carries_dataset_meta(coco_ckpt):
    _, ckpt = coco_ckpt
    import genloc_mmpose  # noqa: F401  (allow-lists mmengine's checkpoint classes)
    state = torch.load(ckpt, weights_only=True)
    meta = state['meta']['dataset_meta']
    assert meta['dataset_name'] == 'coco' and meta['num_keypoints'] == 17
    assert isinstance(meta['sigmas'], np.ndarray)
    assert {'optimizer', 'message_hub', 'param_schedulers'} <= set(state)


def test_checkpoint_of_a_keypoint_set_without_skeleton_loads_weights_only(tmp_path):
    """A keypoint set without links has empty link colours: numpy pickles their data
    as ``bytes()``, which torch's safe loader refuses unless allowed."""
    from mmengine.runner import save_checkpoint
    from mmpose.datasets.datasets.utils import parse_pose_metainfo

    import genloc_mmpose  # noqa: F401
    from genloc_mmpose.datasets.keypoint_metainfo import metainfo_from_coco
    meta = parse_pose_metainfo(metainfo_from_coco(['head', 'tail'], [], 'pair'))
    assert meta['skeleton_link_colors'].size == 0
    save_checkpoint({'meta': {'dataset_meta': meta}, 'state_dict': {}}, str(tmp_path / 'x.pth'))
    loaded = torch.load(tmp_path / 'x.pth', weights_only=True)['meta']['dataset_meta']
    np.testing.assert_array_equal(loaded['keypoint_colors'], meta['keypoint_colors'])
    assert loaded['skeleton_link_colors'].shape == meta['skeleton_link_colors'].shape


def test_detector_boxes_from_bbox_file(coco_ckpt):
    """Test with the usual person-detection file instead of GT boxes: every box is
    a top-down instance, predicted and scored by CocoMetric."""
    import pickle
    work_dir, ckpt = coco_ckpt
    det_dir = osp.join(work_dir, 'det')
    det_file = f'{COCO}test_coco_det_AP_H_56.json'
    # with --dump, mmpose's test.py makes test_evaluator a list before merging options
    options = [o.replace('test_evaluator.', 'test_evaluator.0.') for o in data_options(COCO)]
    run_tool('tools/test.py', COCO_CFG, ckpt, '--work-dir', det_dir, '--dump',
             osp.join(det_dir, 'preds.pkl'), '--cfg-options', *options,
             f'test_dataloader.dataset.bbox_file={det_file}')
    metrics = test_metrics(det_dir)
    # the tiny model memorised the 12 GT crops; on shifted detector crops it is
    # poor, so only the range is checked
    assert 0.0 <= metrics['coco/AP'] <= 1.0 and 'coco/AR' in metrics
    with open(osp.join(det_dir, 'preds.pkl'), 'rb') as f:
        preds = pickle.load(f)
    with open(det_file) as f:
        dets = json.load(f)
    assert len(preds) == len(dets) == 118
    x, y, w, h = dets[0]['bbox']
    np.testing.assert_allclose(preds[0]['pred_instances']['bboxes'][0],
                               [x, y, x + w, y + h], rtol=1e-5)
    assert preds[0]['pred_instances']['keypoints'].shape == (1, 17, 2)


def test_bf16_evaluation_agrees_with_fp32(coco_ckpt):
    """The overfit model's keypoints on the sample people, evaluated with the
    U-Net in bf16 (compute_dtype, as the SD configs) and in fp32."""
    from mmpose.apis import inference_topdown, init_model
    _, ckpt = coco_ckpt
    with open(osp.join(COCO, 'test_coco.json')) as f:
        coco = json.load(f)
    keypoints = {}
    for dtype in (None, 'bfloat16'):
        model = init_model(COCO_CFG, ckpt, device='cpu',
                           cfg_options={'model.backbone.compute_dtype': dtype})
        keypoints[dtype] = []
        for image in coco['images']:
            boxes = np.array([[x, y, x + w, y + h] for x, y, w, h in (
                a['bbox'] for a in coco['annotations']
                if a['image_id'] == image['id'] and a['num_keypoints'] > 0)])
            if len(boxes):
                samples = inference_topdown(model, osp.join(COCO, image['file_name']),
                                            bboxes=boxes)
                keypoints[dtype] += [s.pred_instances.keypoints[0] for s in samples]
    error = np.linalg.norm(np.stack(keypoints[None]) - np.stack(keypoints['bfloat16']),
                           axis=-1)  # image pixels, people 50-400 px tall
    assert error.shape == (12, 17)
    assert np.median(error) < 0.5 and np.percentile(error, 90) < 2.0, error


@pytest.mark.long  # 75 s: past make test's budget, in make test-long
def test_overfit_ap10k_sample(tmp_path):
    """tools/train.py on the AP-10K sample: the validation at its end (the same
    images, CocoMetric; tools/test.py is tested on the COCO overfit) reaches AP 0.9."""
    run_tool('tools/train.py', AP10K_CFG, '--work-dir', str(tmp_path), '--cfg-options',
             *data_options(AP10K, 'test_ap10k.json'))
    assert osp.isfile(tmp_path / 'iter_150.pth')
    [scalars] = glob.glob(str(tmp_path / '*' / 'vis_data' / 'scalars.json'))
    with open(scalars) as f:
        metrics = [json.loads(line) for line in f if 'coco/AP' in line]
    assert len(metrics) == 1, metrics  # one validation, at iteration 150
    assert metrics[0]['coco/AP'] >= 0.9, metrics


def _det_config(name):
    import mmpose
    return osp.join(osp.dirname(mmpose.__file__), '.mim', 'demo', 'mmdetection_cfg', name)


def test_inferencer_detector_boxes_and_whole_image(coco_ckpt, tmp_path):
    from mmpose.apis import MMPoseInferencer
    _, ckpt = coco_ckpt
    img = osp.join(COCO, '000000000785.jpg')

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

    # given boxes (the GT box of a training person, and a second box), x1y1x2y2 in
    # image pixels: MMPoseInferencer with det_model='whole_image' uses them (mmpose
    # 1.3.2 ignored them; genloc_mmpose/patches/inferencer_bboxes.py fixes that)
    from mmpose.apis import inference_topdown
    inferencer = MMPoseInferencer(pose2d=COCO_CFG, pose2d_weights=ckpt, device='cpu',
                                  det_model='whole_image')
    with open(osp.join(COCO, 'test_coco.json')) as f:
        ann = next(a for a in json.load(f)['annotations'] if a['image_id'] == 785)
    x, y, w, h = ann['bbox']
    boxes = [[x, y, x + w, y + h], [10, 20, 200, 400]]
    people = next(inferencer(img, bboxes=[boxes]))['predictions'][0]
    assert len(people) == 2
    np.testing.assert_allclose([p['bbox'][0] for p in people], boxes, rtol=1e-6)
    kpts = np.array(people[0]['keypoints'])
    gt = np.array(ann['keypoints']).reshape(17, 3)
    visible = gt[:, 2] > 0
    # the overfit model finds this training person's keypoints (error << box size)
    assert np.median(np.linalg.norm(kpts[visible] - gt[visible, :2], axis=1)) < 0.05 * h
    # the same keypoints as mmpose's inference_topdown on the same model and boxes
    samples = inference_topdown(inferencer.inferencer.model, img, bboxes=np.array(boxes))
    np.testing.assert_allclose([p['keypoints'] for p in people],
                               [s.pred_instances.keypoints[0] for s in samples], rtol=1e-5)
    with pytest.raises(ValueError, match='x1, y1, x2, y2'):
        next(inferencer(img, bboxes=[[[1, 2, 3]]]))

    # whole image as the box, on an array input (the crop, widened to the model's
    # aspect ratio, reaches beyond the image: keypoints may too)
    import cv2
    result = next(inferencer(cv2.imread(img)))
    whole = np.array(result['predictions'][0][0]['keypoints'])
    assert whole.shape == (17, 2) and np.isfinite(whole).all()
    np.testing.assert_allclose(result['predictions'][0][0]['bbox'][0], [0, 0, 640, 425])


@pytest.mark.slow
def test_torchrun_two_processes_then_test(tmp_path):
    work_dir = str(tmp_path)
    options = data_options(COCO) + [
        'train_cfg.max_iters=4', 'train_dataloader.batch_size=2',
        'default_hooks.checkpoint.interval=4', 'default_hooks.logger.interval=1',
        'model_wrapper_cfg.type=MMDistributedDataParallel',
        'model_wrapper_cfg.device_ids=None']  # CPU processes: no device ids
    env = dict(ENV, PYTHON=sys.executable, OMP_NUM_THREADS='1', PORT='29533')
    proc = subprocess.run(
        ['bash', 'tools/dist_train.sh', COCO_CFG, '2', '--work-dir', work_dir,
         '--cfg-options', *options],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-5000:]
    log = proc.stdout + proc.stderr
    assert 'Distributed training: True' in log
    # both ranks exit cleanly: a gloo group left alive at exit aborts (SIGABRT)
    assert 'terminate called' not in log
    assert 'Iter(train) [4/4]' in log
    run_tool('tools/test.py', COCO_CFG, osp.join(work_dir, 'iter_4.pth'), '--work-dir',
             work_dir, '--cfg-options', *data_options(COCO))
    assert 0 <= test_metrics(work_dir)['coco/AP'] <= 1


@pytest.mark.slow
def test_resume_after_kill_with_slim_checkpoints(tmp_path, sd_folder):
    """The method's setup (frozen U-Net from a weights folder + LoRA): slim
    checkpoints, killed mid-run, resumed."""
    folder, _, _ = sd_folder
    work_dir = str(tmp_path / 'work')
    config = tmp_path / 'genloc_tiny_lora.py'
    config.write_text(
        f"_base_ = ['{COCO_CFG}']\n"
        f"model = dict(backbone=dict(pretrained='{folder}', freeze_unet=True,\n"
        "    lora=dict(_delete_=True, r=4, lora_alpha=4,\n"
        "              target_modules=['to_q', 'to_k', 'to_v', 'to_out.0'])))\n")
    options = data_options(COCO) + [
        'train_cfg.max_iters=24', 'param_scheduler.0.T_max=24',
        'train_dataloader.batch_size=2', 'default_hooks.checkpoint.interval=4',
        'default_hooks.logger.interval=1']
    cmd = [sys.executable, 'tools/train.py', str(config), '--work-dir', work_dir,
           '--cfg-options', *options]
    proc = subprocess.Popen(cmd, cwd=REPO, env=ENV, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)

    def last_saved_iter():  # mmengine writes last_checkpoint once a save is complete
        try:
            with open(osp.join(work_dir, 'last_checkpoint')) as f:
                return int(re.search(r'iter_(\d+)\.pth', f.read()).group(1))
        except (OSError, AttributeError):
            return 0

    deadline = time.time() + 300
    while last_saved_iter() < 8 and time.time() < deadline:
        assert proc.poll() is None, 'training ended before it could be interrupted'
        time.sleep(0.1)
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
    logged = [int(i) for i in re.findall(r'Iter\(train\) \[\s*(\d+)/24\]', log)]
    assert logged == list(range(done_iters + 1, 25))  # continues, does not restart
    final = torch.load(osp.join(work_dir, 'iter_24.pth'), weights_only=True)
    losses_before = killed['message_hub']['log_scalars']['train/loss']._log_history
    losses_after = final['message_hub']['log_scalars']['train/loss']._log_history
    # one loss curve across the interruption: the history up to the kill is kept
    assert len(losses_after) == 24
    np.testing.assert_array_equal(losses_after[:done_iters], losses_before)
