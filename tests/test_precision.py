"""Evaluation at the training precision: ``GenLocBackbone(compute_dtype=...)``, and
the SD configs' ``'auto'``: bf16 where the device computes it, fp32 elsewhere."""
import glob
import os.path as osp
import time

import pytest
import torch
from mmengine.config import Config

from conftest import REPO, TEST_DATA, TINY_CONFIG

SD_CONFIGS = sorted(glob.glob(osp.join(REPO, 'configs', 'genloc', '*', 'genloc_sd*.py')))
AP10K_SD = osp.join(REPO, 'configs', 'genloc', 'ap10k',
                    'genloc_sd15-lora16_8xb25-100e_ap10k-256x256.py')


@pytest.mark.parametrize('config', SD_CONFIGS, ids=osp.basename)
def test_sd_configs_train_and_evaluate_in_bf16_where_the_device_has_it(config):
    cfg = Config.fromfile(config)
    assert cfg.model.backbone.compute_dtype == 'auto'
    assert cfg.optim_wrapper.type == 'AmpOptimWrapper'  # on an accelerator
    assert cfg.optim_wrapper.dtype == 'bfloat16'  # training autocasts the head too


@pytest.fixture(params=['bf16 CPU', 'fp32 CPU'])
def cpu_kind(request, monkeypatch):
    """This CPU as one with bf16 instructions (AVX512-BF16) or without (AVX2):
    (name, the dtype 'auto' must choose)."""
    from genloc_mmpose.models import backbone
    flags = frozenset({'avx512_bf16'}) if request.param == 'bf16 CPU' else frozenset()
    monkeypatch.setattr(backbone, '_cpu_bf16_flags', lambda: flags)
    return request.param, torch.bfloat16 if flags else torch.float32


def _dtype_probe(model):
    """Forward hooks recording the dtypes the model computes in."""
    seen = {}

    def record(name):
        def hook(module, args, output):
            seen.setdefault(name, set()).add(
                (output[0] if isinstance(output, tuple) else output).dtype)
        return hook

    backbone = model.backbone
    backbone.unet.conv_in.register_forward_hook(record('unet'))
    backbone.unet.up_blocks[-1].attentions[-1].register_forward_hook(record('unet_attn'))
    backbone.vae.encoder.conv_in.register_forward_hook(record('vae'))
    backbone.register_forward_hook(record('maps'))
    decode = model.head.decoder.batch_decode

    def batch_decode(heatmaps):  # the head's fused maps, as the codec gets them
        seen.setdefault('fused', set()).add(heatmaps.dtype)
        return decode(heatmaps)

    model.head.decoder.batch_decode = batch_decode
    return seen


def _ap10k_sd_config(tmp_path):
    """The AP-10K SD config with the tiny random U-Net/VAE swapped in, on the AP-10K
    sample (the rest as shipped: flip-batched estimator, CocoMetric, AMP wrapper)."""
    tiny = Config.fromfile(TINY_CONFIG)
    cfg = Config.fromfile(AP10K_SD)
    root = osp.join(TEST_DATA, 'ap10k') + '/'
    options = {'model.backbone.pretrained': None, 'model.backbone.unet_cfg': tiny.tiny_unet,
               'model.backbone.vae_cfg': tiny.tiny_vae, 'model.backbone.compile': False,
               'val_evaluator.ann_file': root + 'test_ap10k.json',
               'test_evaluator.ann_file': root + 'test_ap10k.json',
               'train_cfg.max_epochs': 1, 'param_scheduler': [], 'default_hooks.checkpoint':
               dict(interval=1, by_epoch=True)}
    for split in ('train', 'val', 'test'):
        options.update({
            f'{split}_dataloader.dataset.data_root': root,
            f'{split}_dataloader.dataset.ann_file': 'test_ap10k.json',
            f'{split}_dataloader.dataset.data_prefix': dict(img=''),
            f'{split}_dataloader.num_workers': 0,
            f'{split}_dataloader.persistent_workers': False,
            f'{split}_dataloader.batch_size': 2})
    cfg.merge_from_dict(options)
    cfg.work_dir = str(tmp_path)
    return cfg


def test_sd_config_runner_test_computes_in_the_cpus_dtype(tmp_path, cpu_kind):
    """Runner.test() of the AP-10K SD config on the CPU: the VAE and U-Net compute
    in bf16 on a CPU with bf16 instructions and store the frozen weights in it; in
    fp32 on one without; the maps and the head are fp32 either way."""
    from mmengine.runner import Runner
    _, dtype = cpu_kind
    runner = Runner.from_cfg(_ap10k_sd_config(tmp_path))
    seen = _dtype_probe(runner.model)
    metrics = runner.test()
    assert 'coco/AP' in metrics
    assert seen == dict(vae={dtype}, unet={dtype}, unet_attn={dtype}, maps={torch.float32},
                        fused={torch.float32})
    backbone = runner.model.backbone
    frozen = {p.dtype for p in backbone.parameters() if not p.requires_grad}
    trained = {p.dtype for p in backbone.parameters() if p.requires_grad}
    assert frozen == {dtype} and trained == {torch.float32}


def test_sd_config_trains_on_a_cpu_without_amp(tmp_path):
    """The shipped AmpOptimWrapper becomes a plain OptimWrapper without an
    accelerator (MMEngine's AmpOptimWrapper asserts one), and training runs."""
    from mmengine.optim import AmpOptimWrapper, OptimWrapper
    from mmengine.runner import Runner
    runner = Runner.from_cfg(_ap10k_sd_config(tmp_path))
    runner.train()
    assert type(runner.optim_wrapper) is OptimWrapper
    assert not isinstance(runner.optim_wrapper, AmpOptimWrapper)
    assert runner.iter == 1 and osp.isfile(osp.join(str(tmp_path), 'epoch_1.pth'))
    loss = runner.message_hub.get_scalar('train/loss').current()
    assert torch.isfinite(torch.tensor(loss))


@pytest.mark.long  # 30 s: past make test's budget, in make test-long
def test_full_size_sd15_forward_on_the_cpu(tmp_path, monkeypatch):
    """The SD-1.5 architecture (random weights written as an fp16-variant diffusers
    folder, as SD is shipped) through one GenLoc forward of a 256x256 crop with the
    shipped AP-10K config's backbone settings, on the CPU: fp32 on a CPU without bf16
    instructions (emulated bf16 did not finish one crop in 10 minutes on such a
    CPU), bf16 where the CPU has them. Prints seconds per crop (docs/benchmarks.md)."""
    from diffusers import AutoencoderKL, UNet2DConditionModel
    from mmpose.registry import MODELS

    from genloc_mmpose.models import backbone as backbone_module
    from genloc_mmpose.models.backbone import SD15_UNET, SD15_VAE, native_bf16
    native = native_bf16(torch.device('cpu'))
    torch.manual_seed(0)
    folder = tmp_path / 'sd15'
    for sub, cls, arch in (('unet', UNet2DConditionModel, SD15_UNET),
                           ('vae', AutoencoderKL, SD15_VAE)):
        cls.from_config(cls.load_config(arch)).to(torch.float16).save_pretrained(
            folder / sub, variant='fp16')
    cfg = Config.fromfile(AP10K_SD).model.backbone
    cfg.update(pretrained=str(folder), compile=False)
    model = MODELS.build(cfg).eval()
    crop = torch.rand(1, 3, 256, 256) * 2 - 1
    for flags, dtype in ((frozenset(), torch.float32),
                         (frozenset({'avx512_bf16'}), torch.bfloat16)):
        if dtype == torch.bfloat16 and not native:
            continue  # emulated: minutes per crop
        monkeypatch.setattr(backbone_module, '_cpu_bf16_flags', lambda: flags)
        model.auto_dtype_device = None  # choose again, as a fresh process would
        seen = _dtype_probe_backbone(model)
        with torch.no_grad():
            start = time.perf_counter()
            maps = model(crop)
            seconds = time.perf_counter() - start
        print(f'SD-1.5 GenLoc forward, one 256x256 crop, CPU, {dtype}: {seconds:.2f} s')
        assert seen == dict(unet={dtype}, vae={dtype})
        assert {p.dtype for p in model.unet.parameters() if not p.requires_grad} == {dtype}
        # SD-1.5's three cross-attention up-blocks, 3 layers each, at 1/4, 1/2, 1 of
        # the 32x32 latent
        assert [tuple(m.shape[-2:]) for m in maps] == [(8, 8)] * 3 + [(16, 16)] * 3 \
            + [(32, 32)] * 3
        for m in maps:
            assert m.dtype == torch.float32
            torch.testing.assert_close(m.sum((-2, -1)), torch.ones(1, 17))


def _dtype_probe_backbone(backbone):
    seen = {}
    for name, module in (('unet', backbone.unet.conv_in), ('vae', backbone.vae.encoder.conv_in)):
        module._forward_hooks.clear()
        module.register_forward_hook(
            lambda m, a, out, name=name: seen.setdefault(name, set()).add(out.dtype))
    return seen


def test_bf16_frozen_weights_halve_their_memory_and_keep_checkpoints(build_backbone):
    fp32 = build_backbone(seed=0)
    bf16 = build_backbone(seed=0, compute_dtype='bfloat16')

    def frozen_bytes(model):
        return sum(p.numel() * p.element_size() for p in model.parameters()
                   if not p.requires_grad)

    assert frozen_bytes(bf16) * 2 == frozen_bytes(fp32)
    # trained tensors (what a slim checkpoint holds) are the same fp32 values
    for (name, a), (_, b) in zip(fp32.named_parameters(), bf16.named_parameters()):
        if a.requires_grad:
            assert b.requires_grad and b.dtype == torch.float32, name
            torch.testing.assert_close(a, b)


def test_bf16_maps_agree_with_fp32_and_train_fp32_masters(build_backbone, images):
    fp32 = build_backbone(seed=0).eval()
    bf16 = build_backbone(seed=0, compute_dtype='bfloat16').eval()
    with torch.no_grad():
        maps, maps_bf16 = fp32(images), bf16(images)
    for a, b in zip(maps, maps_bf16):
        assert b.dtype == torch.float32
        torch.testing.assert_close(b.sum((-2, -1)), torch.ones(b.shape[:2]))
        # bf16 has 8 mantissa bits: the maps agree to a few % of their peak
        assert (a - b).abs().max() < 0.05 * a.max()
    bf16.train()
    loss = sum((m * m).sum() for m in bf16(images))
    loss.backward()
    grads = [p.grad for p in bf16.parameters() if p.requires_grad]
    assert all(g is not None and g.dtype == torch.float32 for g in grads)
    assert bf16.conditions.grad.abs().sum() > 0


def test_compute_dtype_is_checked(build_backbone):
    with pytest.raises(ValueError, match='compute_dtype must be one of'):
        build_backbone(compute_dtype='bf16')
