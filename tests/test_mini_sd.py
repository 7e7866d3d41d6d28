"""The creature world and the tool that trains a miniature Stable Diffusion on it:
the world is deterministic and its labels match what it drew; the training tool
writes SD-1.5's layout, which loads as SD does (StableDiffusionPipeline,
GenLocBackbone with text conditions), resumes, and stops where told."""
import hashlib
import json
import os
import os.path as osp
import re

import cv2
import numpy as np
import pytest
import torch

from conftest import REPO


def test_world_is_deterministic_and_unchanged():
    """The same (seed, split, index) draws the same image; the generator still makes
    the data the miniature SD in training was made from (captions exactly; keypoints
    and pixels within float tolerance, which other CPUs' OpenCV kernels may round)."""
    from genloc_mmpose.synthetic import creatures
    first = [creatures.make_creature(0, 'train', i) for i in range(16)]
    again = creatures.make_creature(0, 'train', 3)
    assert np.array_equal(again['image'], first[3]['image'])
    assert np.array_equal(again['keypoints'], first[3]['keypoints'])
    assert not np.array_equal(first[3]['image'], first[4]['image'])
    assert creatures.make_creature(0, 'test', 3)['caption'] != first[3]['caption']
    digest = hashlib.sha256(''.join(it['caption'] for it in first).encode()).hexdigest()
    assert digest == '8df3e50c0b1fc0fe23f3f59e34ae9e9cd14e6bf700647ab009849bc66e504e1a'
    assert sum(it['keypoints'].sum() for it in first) == pytest.approx(17283.318873564, abs=1e-3)
    assert np.mean([it['image'].mean() for it in first]) == pytest.approx(140.187, abs=0.05)


@pytest.fixture(scope='module')
def val_creatures():
    from genloc_mmpose.synthetic import creatures
    return [creatures.make_creature(0, 'val', i) for i in range(300)]


def test_keypoints_lie_on_the_body_they_belong_to(val_creatures):
    """Every labelled keypoint is on the creature's pixels (1 px of tolerance for the
    anti-aliased outline) and inside its box; left/right follow the facing (the near
    legs, drawn over the torso, are the left legs when facing left)."""
    from genloc_mmpose.synthetic import creatures
    on_body = total = 0
    for item in val_creatures:
        mask = cv2.dilate(item['mask'].astype(np.uint8), np.ones((3, 3), np.uint8)) > 0
        x, y, w, h = item['bbox']
        for (kx, ky, v) in item['keypoints']:
            if v == 0:
                continue
            total += 1
            on_body += mask[int(round(ky)), int(round(kx))]
            assert x - 1e-6 <= kx <= x + w and y - 1e-6 <= ky <= y + h
    assert on_body / total > 0.99, on_body / total
    # the keypoints hidden under the torso are the far side's: right when facing left
    for item in val_creatures:
        hidden = {creatures.KEYPOINTS[i] for i, v in enumerate(item['keypoints'][:, 2]) if v == 1}
        far = 'right' if item['params']['facing'] == 'left' else 'left'
        assert hidden <= {f'{far}_shoulder', f'{far}_hip'}


def test_part_words_name_what_is_drawn(val_creatures):
    """A caption's "<colour> <keypoint name>" (e.g. "white left front paw") is drawn
    in that colour at that keypoint: the labels and the words agree, sides included.
    Checked on the near side (facing left: the left side) and the midline; the far
    side's marks are often behind the near legs or the torso."""
    from genloc_mmpose.synthetic import creatures
    checked = agree = 0
    for item in val_creatures:
        far = 'right' if item['params']['facing'] == 'left' else 'left'
        for phrase, colour in item['params']['parts'].items():
            name = phrase.replace(' ', '_')
            if phrase not in creatures.POINT_PHRASES or name.endswith('eye') or \
                    name.startswith(far):
                continue  # eyes are a pixel or two: too small to read back
            x, y, v = item['keypoints'][creatures.KEYPOINTS.index(name)]
            if v != 2:
                continue
            patch = item['image'][max(0, int(y) - 1):int(y) + 2, max(0, int(x) - 1):int(x) + 2]
            target = np.array(creatures.COLORS[colour], float)
            shades = [target, target * 0.72]  # near and far side
            distance = min(np.abs(patch.reshape(-1, 3) - s).sum(1).min() for s in shades)
            checked += 1
            agree += distance < 60
    assert checked > 200 and agree / checked > 0.99, (checked, agree)


def test_captions_fit_the_tokenizer_and_name_the_creature(val_creatures, tmp_path):
    """The tool's BPE tokenizer, learnt from training captions, reads held-out
    captions without unknown tokens and within the text encoder's context."""
    from genloc_mmpose.mini_sd.train import DEFAULTS, build_tokenizer, tokenizer_corpus
    from genloc_mmpose.synthetic import creatures
    train = [creatures.make_creature(0, 'train', i)['caption'] for i in range(300)]
    tok = build_tokenizer(tokenizer_corpus(train), str(tmp_path / 'tok'),
                          DEFAULTS['text']['max_position_embeddings'])
    for item in val_creatures:
        text, params = item['caption'], item['params']
        assert params['family'] in text and f'facing {params["facing"]}' in text
        ids = tok(text).input_ids
        assert len(ids) <= tok.model_max_length
        assert tok.unk_token_id not in ids[1:-1]


TINY_RUN = ['--set', 'num_images=64', 'vae_steps=2', 'unet_steps=4', 'save_every=2',
            'log_every=1', 'vae_batch=4', 'unet_batch=4', 'vae.block_out_channels=(8,16,16)',
            'vae.norm_num_groups=4', 'unet.block_out_channels=(8,16,16,16)',
            'unet.norm_num_groups=4', 'text.hidden_size=16', 'text.intermediate_size=32',
            'text.num_hidden_layers=1', 'text.num_attention_heads=2']


def assert_backbone_reads_it(folder: str, width: int) -> None:
    """GenLocBackbone reads a mini-SD folder through the code that reads SD-1.5:
    conditions (K, width) from the creature keypoint names through its text encoder,
    one CKHE map per up-block cross-attention layer (4x4, 8x8, 16x16 for 64x64),
    each a distribution over the image tokens."""
    from genloc_mmpose.models import GenLocBackbone
    from genloc_mmpose.models.text_conditions import text_conditions
    from genloc_mmpose.synthetic import creatures
    backbone = GenLocBackbone(num_keypoints=len(creatures.KEYPOINTS), pretrained=folder,
                              condition_init='text', keypoint_names=list(creatures.KEYPOINTS),
                              object_name='creature').eval()
    expected = text_conditions(creatures.KEYPOINTS, 'creature', folder, width)
    torch.testing.assert_close(backbone.conditions.data, expected)
    with torch.no_grad():
        maps = backbone(torch.zeros(2, 3, 64, 64))
    assert [m.shape[-1] for m in maps] == [4] * 3 + [8] * 3 + [16] * 3
    torch.testing.assert_close(maps[-1].sum((-2, -1)), torch.ones(2, 18))


@pytest.fixture(scope='module')
def tiny_run(tmp_path_factory):
    """tools/misc/train_mini_sd.py, a tiny run stopped at step 3 of a 4-step
    schedule, then called again without the stop: (work_dir, folder, logs)."""
    import subprocess
    import sys
    tmp = tmp_path_factory.mktemp('mini_sd')
    args = [sys.executable, 'tools/misc/train_mini_sd.py', '--work-dir', str(tmp / 'w'),
            '--out', str(tmp / 'sd'), *TINY_RUN]
    env = dict(os.environ, OMP_NUM_THREADS='1')
    logs = []
    for extra in (['unet_stop=3'], []):
        proc = subprocess.run(args + extra, cwd=REPO, env=env, capture_output=True,
                              text=True, timeout=600)
        assert proc.returncode == 0, proc.stderr[-3000:]
        logs.append(proc.stdout + proc.stderr)
    return tmp / 'w', str(tmp / 'sd'), logs


def test_training_tool_stops_resumes_and_writes_sd15_layout(tiny_run):
    """The first call trains the VAE and 3 U-Net steps and writes the folder; the
    second resumes at step 3 (nothing retrained) and finishes the schedule."""
    work_dir, folder, (first, second) = tiny_run
    assert re.search(r'unet step 3/4: loss [\d.]+', first) and 'step 4/4' not in first
    assert 'resumed unet_state.pt at step 3' in second
    assert re.search(r'unet step 4/4: loss [\d.]+', second)
    assert 'vae step' not in second  # the VAE was not trained again
    files = {osp.relpath(osp.join(d, f), folder) for d, _, fs in os.walk(folder) for f in fs}
    for required in ('model_index.json', 'unet/config.json',
                     'unet/diffusion_pytorch_model.safetensors', 'vae/config.json',
                     'vae/diffusion_pytorch_model.safetensors', 'text_encoder/config.json',
                     'text_encoder/model.safetensors', 'tokenizer/vocab.json',
                     'tokenizer/merges.txt', 'scheduler/scheduler_config.json'):
        assert required in files, required


def test_written_folder_loads_as_stable_diffusion_does(tiny_run):
    """``StableDiffusionPipeline.from_pretrained`` samples from it, and
    GenLocBackbone reads it through the code that reads SD-1.5: conditions from the
    keypoint names through its text encoder, one CKHE map per up-block
    cross-attention layer (4x4, 8x8, 16x16 for a 64x64 crop)."""
    from diffusers import StableDiffusionPipeline

    from genloc_mmpose.mini_sd.train import load_pipeline
    _, folder, _ = tiny_run
    pipe = load_pipeline(folder)
    assert isinstance(pipe, StableDiffusionPipeline)
    assert pipe.unet.config.down_block_types == ['CrossAttnDownBlock2D'] * 3 + ['DownBlock2D']
    assert pipe.text_encoder.dtype == torch.float32  # loaded in fp32 from fp16 files
    pipe.set_progress_bar_config(disable=True)
    image = pipe('a red hound standing facing left, on snow', num_inference_steps=2,
                 generator=torch.Generator().manual_seed(0), output_type='np').images[0]
    assert image.shape == (64, 64, 3) and np.isfinite(image).all()
    assert_backbone_reads_it(folder, width=16)


def test_training_continues_from_a_written_folder(tiny_run, tmp_path):
    """``init=FOLDER`` starts from a folder the tool wrote, in a new work dir: its
    VAE (not retrained), its U-Net and text encoder (at learning rate 0 the written
    weights are the init's, bit for bit), its recipe recorded; a folder of another
    architecture is refused, naming the setting."""
    import subprocess
    import sys

    from safetensors.torch import load_file
    _, init, _ = tiny_run
    out = tmp_path / 'sd'
    args = [sys.executable, 'tools/misc/train_mini_sd.py', '--work-dir', str(tmp_path / 'w'),
            '--out', str(out), *TINY_RUN, 'unet_steps=2', 'unet_lr=0', f'init={init!r}']
    env = dict(os.environ, OMP_NUM_THREADS='1')
    proc = subprocess.run(args, cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    log = proc.stdout + proc.stderr
    assert f'vae: from {init}' in log and 'vae step' not in log
    assert re.search(r'unet step 2/2: loss [\d.]+', log)
    for part in ('unet/diffusion_pytorch_model', 'vae/diffusion_pytorch_model',
                 'text_encoder/model'):
        mine, theirs = (load_file(osp.join(d, part + '.safetensors')) for d in (out, init))
        assert mine.keys() == theirs.keys()
        assert all(torch.equal(mine[k], theirs[k]) for k in mine), part
    with open(out / 'training.json') as f:
        recipe = json.load(f)
    assert recipe['init'] == init and recipe['trained_unet_steps'] == 2
    assert recipe['init_training']['trained_unet_steps'] == 4
    args[3] = str(tmp_path / 'other')
    proc = subprocess.run(args + ['unet.block_out_channels=(8,16,16,32)'], cwd=REPO,
                          env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode != 0
    assert re.search(r'was trained with unet=.*not \{.*\[8, 16, 16, 32\]', proc.stderr)


@pytest.mark.slow
def test_gpu_script_dry_run_stops_at_its_time_budget(tmp_path):
    """tools/misc/mini_sd_gpu.sh (the recipe for a GPU machine) run on the CPU with
    the tiny model: ``unet_minutes`` ends the U-Net stage at the first step past the
    budget, saves a state to resume from, and the folder (a tar, as the device tool
    brings back few files) and the logs land in OUT; the same WORK with another
    world is refused instead of mixing runs."""
    import subprocess
    import sys
    out = tmp_path / 'out'
    env = dict(os.environ, OMP_NUM_THREADS='1', DEVICE='cpu', WORK=str(tmp_path / 'w'),
               MINUTES='0.0001', PY=sys.executable)
    proc = subprocess.run(['bash', 'tools/misc/mini_sd_gpu.sh', str(out),
                           *TINY_RUN[1:]], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert sorted(os.listdir(out)) == ['config.json', 'console.txt', 'mini-sd.tar', 'train.log']
    log = (out / 'train.log').read_text()
    assert 'unet step 1/4' in log and 'unet step 2/4' not in log, log[-2000:]
    assert 'budget spent at step 1' in log
    state = torch.load(tmp_path / 'w' / 'unet_state.pt', weights_only=False)
    assert state['step'] == 1
    import tarfile
    with tarfile.open(out / 'mini-sd.tar') as tar:
        tar.extractall(tmp_path / 'x', filter='data')
    from genloc_mmpose.mini_sd.train import load_pipeline
    pipe = load_pipeline(str(tmp_path / 'x' / 'mini-sd'))
    assert pipe.unet.config.block_out_channels == [8, 16, 16, 16]
    with open(tmp_path / 'x' / 'mini-sd' / 'training.json') as f:
        assert json.load(f)['trained_unet_steps'] == 1
    # the same WORK with another world is refused, naming the cache and the setting
    proc = subprocess.run(['bash', 'tools/misc/mini_sd_gpu.sh', str(out), *TINY_RUN[1:],
                           'num_images=65'], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=600)
    assert proc.returncode != 0
    assert re.search(r'world\.npz was made with num_images=64, not 65', proc.stdout)


def test_box_crops_are_mmpose_top_down_crops():
    """prior.box_crops (the crops of the zero-shot name PCK) equals MMPose's own
    test pipeline on the world's COCO annotations (CocoDataset's box,
    GetBBoxCenterScale, TopdownAffine): the same pixels and keypoints."""
    from mmpose.datasets.transforms import GetBBoxCenterScale, TopdownAffine

    from genloc_mmpose.mini_sd.prior import box_crops
    from genloc_mmpose.synthetic import creatures
    items = [creatures.make_creature(0, 'test', i) for i in range(40)]
    crops, labels = box_crops(items, 64)
    assert crops.shape == (40, 64, 64, 3) and labels.shape == (40, 18, 3)
    for item, crop, label in zip(items, crops, labels):
        x, y, w, h = item['bbox']
        box = np.clip([x, y, x + w, y + h], 0, 63).astype(np.float32)[None]
        results = dict(img=item['image'].copy(), bbox=box, bbox_score=np.ones(1),
                       keypoints=item['keypoints'][None, :, :2].astype(np.float32),
                       keypoints_visible=np.minimum(item['keypoints'][None, :, 2], 1))
        results = TopdownAffine(input_size=(64, 64))(GetBBoxCenterScale()(results))
        assert np.abs(results['img'].astype(int) - crop).max() <= 1
        np.testing.assert_allclose(results['transformed_keypoints'][0], label[:, :2],
                                   atol=1e-3)


def test_prior_measures_on_a_tiny_folder(tiny_run):
    """prior.denoising_losses equals a direct recomputation of the epsilon error
    with the pipeline's own parts; name_pck scores within [0, 1] per keypoint."""
    from diffusers import DDPMScheduler

    from genloc_mmpose.mini_sd.prior import denoising_losses, name_pck
    from genloc_mmpose.mini_sd.train import SD_SCHEDULE, load_pipeline
    from genloc_mmpose.synthetic import creatures
    _, folder, _ = tiny_run
    losses = denoising_losses(folder, num=4, timesteps=(300, ), seed=3)
    pipe = load_pipeline(folder)
    items = [creatures.make_creature(3, 'test', i) for i in range(4)]
    x = torch.from_numpy(np.stack([it['image'] for it in items])).permute(0, 3, 1, 2)
    with torch.no_grad():
        z = pipe.vae.encode(x.float() / 127.5 - 1).latent_dist.mean
        z = z * pipe.vae.config.scaling_factor
        noise = torch.randn(z.shape, generator=torch.Generator().manual_seed(3))
        t = torch.full((4, ), 300)
        noisy = DDPMScheduler(**SD_SCHEDULE).add_noise(z, noise, t)
        ids = pipe.tokenizer([it['caption'] for it in items], padding='max_length',
                             max_length=pipe.tokenizer.model_max_length,
                             return_tensors='pt').input_ids
        pred = pipe.unet(noisy, t, pipe.text_encoder(ids).last_hidden_state).sample
    assert losses['caption'][300] == pytest.approx(float(((pred - noise)**2).mean()),
                                                   rel=1e-4)
    assert set(losses) == {'caption', 'empty', 'random'}
    pck = name_pck(folder, num=8)
    assert set(pck) == set(creatures.KEYPOINTS) | {'mean'}
    assert all(0 <= v <= 1 for v in pck.values())


@pytest.mark.slow
def test_experiment_runner_trains_tests_and_caches(tiny_run, tmp_path, monkeypatch):
    """genloc_mmpose.mini_sd.experiments.run: the creature config on the tiny
    folder (prior) and on random weights of its architecture (no prior), 2
    iterations on 4 labelled images, tested on 8 held-out ones with CocoMetric, PCK
    and EPE; the same call again reads the cached result, other overrides do not;
    summarise gives mean/min/max over seeds."""
    from genloc_mmpose.mini_sd import experiments
    _, folder, _ = tiny_run
    common = dict(labels=4, iters=2, sd=folder, test_images=8,
                  data_root=str(tmp_path / 'data'))
    monkeypatch.setattr(experiments, 'POOL', 12)
    monkeypatch.setattr(experiments, 'TEST', 8)
    a = experiments.run(str(tmp_path), 'text', seed=0, **common)
    b = experiments.run(str(tmp_path), 'no-prior', seed=0, **common)
    for r in (a, b):
        assert r['iters'] == 2 and 0 <= r['PCK'] <= 1 and r['EPE'] > 0 and 0 <= r['AP'] <= 1
        assert osp.exists(r['checkpoint'])
    # cached: no Runner is built again; other overrides are not served from the cache
    from mmengine.runner import Runner

    def no_runner(*args, **kwargs):
        raise AssertionError('trained again')
    monkeypatch.setattr(Runner, 'from_cfg', no_runner)
    assert experiments.run(str(tmp_path), 'text', seed=0, **common) == a
    with pytest.raises(AssertionError, match='trained again'):
        experiments.run(str(tmp_path), 'text', seed=0,
                        cfg_options={'model.head.loss': experiments.MSE}, **common)
    rows = experiments.summarise([dict(a, seed=0), dict(a, seed=1, PCK=a['PCK'] + 0.2)])
    assert rows[0]['PCK'] == pytest.approx((a['PCK'] + 0.1, a['PCK'], a['PCK'] + 0.2))
    assert '| 4 |' in experiments.markdown(rows)
    monkeypatch.undo()  # the Runner back; POOL and TEST again as the run had them
    monkeypatch.setattr(experiments, 'POOL', 12)
    monkeypatch.setattr(experiments, 'TEST', 8)
    # Table 6's seen baseline: the trained run tested on each family of its test
    # creatures; EPE is the mean over visible keypoints, so the families' EPEs
    # weighted by their visible keypoints give the all-family test's (PCK is a mean
    # of per-keypoint means: not so)
    import json
    with open(osp.join(tmp_path, 'data', 'annotations', 'test_first8.json')) as f:
        test = json.load(f)
    family_of = {im['id']: im['family'] for im in test['images']}
    visible = {}
    for ann in test['annotations']:
        count = sum(v > 0 for v in ann['keypoints'][2::3])
        visible[family_of[ann['image_id']]] = visible.get(family_of[ann['image_id']], 0) + count
    seen = {f: experiments.score_on_family(str(tmp_path), 'text', f, **common)
            for f in visible}
    assert len(seen) >= 2 and all(r['family'] == f for f, r in seen.items())
    assert len({r['EPE'] for r in seen.values()}) == len(seen)  # each its own images
    total = sum(visible.values())
    assert sum(seen[f]['EPE'] * n for f, n in visible.items()) / total == pytest.approx(
        a['EPE'], rel=1e-5)
    assert f"| {next(iter(seen))} (seen in training) |" in experiments.markdown(
        experiments.summarise(list(seen.values())))


@pytest.mark.long  # 34 s: past make test's budget, in make test-long
def test_experiment_curves_peer_and_score_threshold(tiny_run, tmp_path, monkeypatch):
    """A learning-curve run validates every ``curve_every`` iterations on held-out
    images disjoint from the test images, at a constant rate after warm-up, and its
    last point is what a fresh validation of the final checkpoint gives; MMPose's
    peer trains on the same data; the calibrated score threshold is stored in the
    checkpoint and is the F1-best one on the validation images."""
    import json

    import torch
    from mmengine.config import Config
    from mmengine.runner import Runner

    from genloc_mmpose.evaluation import calibrate_score_threshold
    from genloc_mmpose.evaluation.score_threshold import SCORE_THR_KEY
    from genloc_mmpose.mini_sd import experiments
    _, folder, _ = tiny_run
    monkeypatch.setattr(experiments, 'POOL', 12)
    monkeypatch.setattr(experiments, 'TEST', 12)
    monkeypatch.setattr(experiments, 'VALIDATION', 4)
    common = dict(labels=4, iters=4, sd=folder, data_root=str(tmp_path / 'data'))
    with pytest.raises(ValueError, match='overlap'):
        experiments.run(str(tmp_path), 'prior', curve_every=2, test_images=9, **common)
    r = experiments.run(str(tmp_path), 'prior', curve_every=2, schedule='constant',
                        test_images=8, **common)
    assert [p['iter'] for p in r['curve']] == [2, 4] and r['schedule'] == 'constant'
    assert all(p['loss'] > 0 for p in r['curve'])
    cfg = Config.fromfile(r['config'])
    assert [s['type'] for s in cfg.param_scheduler] == ['LinearLR']
    ann = osp.join(cfg.val_dataloader.dataset.data_root, cfg.val_dataloader.dataset.ann_file)
    test_ann = osp.join(cfg.test_dataloader.dataset.data_root,
                        cfg.test_dataloader.dataset.ann_file)
    ids = [{im['id'] for im in json.load(open(a))['images']} for a in (ann, test_ann)]
    assert len(ids[0]) == 4 and len(ids[1]) == 8 and not ids[0] & ids[1]
    cfg.test_dataloader = cfg.val_dataloader
    cfg.test_evaluator = cfg.val_evaluator
    cfg.load_from = r['checkpoint']
    cfg.work_dir = str(tmp_path / 'again')
    cfg.visualizer.name = 'visualizer_curve_check'
    again = Runner.from_cfg(cfg).test()
    assert r['curve'][-1]['PCK'] == pytest.approx(again['PCK'], abs=1e-6)
    assert r['curve'][-1]['EPE'] == pytest.approx(again['EPE'], rel=1e-5)

    peer = experiments.run(str(tmp_path), 'peer', test_images=8, **common)
    assert 0 <= peer['PCK'] <= 1 and peer['EPE'] > 0
    assert Config.fromfile(peer['config']).model.backbone.type == 'ResNet'

    found = calibrate_score_threshold(r['config'], r['checkpoint'],
                                      work_dir=str(tmp_path / 'cal'))
    stored = torch.load(r['checkpoint'], weights_only=True)['meta'][SCORE_THR_KEY]
    assert stored == found['score_thr']
    # the F1-best threshold by brute force over the predictions of the same images
    from mmpose.apis import init_model
    model = init_model(r['config'], r['checkpoint'], device='cpu')
    scores, correct = [], []
    loader = Runner.build_dataloader(cfg.val_dataloader)
    with torch.no_grad():
        for batch in loader:
            for sample in model.test_step(batch):
                gt = sample.gt_instances
                size = max(gt.bboxes[0][2:] - gt.bboxes[0][:2])
                err = np.linalg.norm(sample.pred_instances.keypoints[0]
                                     - gt.keypoints[0], axis=-1) / size
                vis = np.asarray(gt.keypoints_visible[0]) > 0
                scores += list(sample.pred_instances.keypoint_scores[0][vis])
                correct += list(err[vis] <= 0.1)
    scores, correct = np.array(scores), np.array(correct)

    def f1(t):
        drawn = scores >= t
        tp = (drawn & correct).sum()
        return 2 * tp / max(drawn.sum() + correct.sum(), 1)
    best = max(f1(t) for t in scores)
    assert f1(found['score_thr']) == pytest.approx(best)
    assert found['correct'] == pytest.approx(correct.mean())


# ----------------------------------------------------------- the shipped prior
MINI_SD = osp.join(REPO, 'demo', 'mini-sd')


def test_shipped_folder_is_sd15_layout_small_and_reproducible():
    files = {osp.relpath(osp.join(d, f), MINI_SD) for d, _, fs in os.walk(MINI_SD) for f in fs}
    for required in ('model_index.json', 'unet/config.json',
                     'unet/diffusion_pytorch_model.safetensors', 'vae/config.json',
                     'vae/diffusion_pytorch_model.safetensors', 'text_encoder/config.json',
                     'text_encoder/model.safetensors', 'tokenizer/vocab.json',
                     'tokenizer/merges.txt', 'scheduler/scheduler_config.json',
                     'training.json', 'README.md'):
        assert required in files, required
    assert sum(osp.getsize(osp.join(MINI_SD, f)) for f in files) <= 20 * 2**20
    from genloc_mmpose.mini_sd.train import DEFAULTS
    with open(osp.join(MINI_SD, 'training.json')) as f:
        recipe = json.load(f)
    assert set(DEFAULTS) <= set(recipe)  # every setting of the run is recorded


def test_shipped_prior_samples_and_its_caption_matters():
    """It loads in StableDiffusionPipeline and samples; on held-out images (never
    seen in training) its denoising error is lower with the image's caption than
    with the empty one at every timestep, and far below a random U-Net's."""
    from genloc_mmpose.mini_sd.prior import denoising_losses
    from genloc_mmpose.mini_sd.train import load_pipeline
    pipe = load_pipeline(MINI_SD)
    pipe.set_progress_bar_config(disable=True)
    image = pipe('a red long-tailed hound standing facing left, on snow',
                 num_inference_steps=4, generator=torch.Generator().manual_seed(0),
                 output_type='np').images[0]
    assert image.shape == (64, 64, 3) and np.isfinite(image).all()
    losses = denoising_losses(MINI_SD, num=64, timesteps=(300, 600, 800))
    for t in (300, 600, 800):
        assert losses['caption'][t] < losses['empty'][t] < 0.2 * losses['random'][t], losses


def test_genloc_backbone_reads_the_shipped_prior_with_text_conditions():
    """GenLocBackbone reads it as it reads SD-1.5: conditions from the creature
    keypoint names through its text encoder, 9 CKHE maps at 4, 8 and 16."""
    assert_backbone_reads_it(MINI_SD, width=128)


def test_experiments_tool_refuses_label_counts_without_rows(monkeypatch, capsys):
    """``--labels 20`` used to run nothing and print empty tables: now an error naming
    the rows the tables have (the script, run in this process)."""
    import runpy
    script = osp.join(REPO, 'tools', 'misc', 'mini_sd_experiments.py')
    monkeypatch.setattr('sys.argv', [script, '--tables', 'prior', '--labels', '20', '5'])
    with pytest.raises(SystemExit) as exit_:
        runpy.run_path(script, run_name='__main__')
    err = capsys.readouterr().err
    assert exit_.value.code == 2
    assert '--labels 20: the tables prior have rows for 5 10 25 all labelled images only' \
        in err, err[-2000:]
