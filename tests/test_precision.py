"""Evaluation at the training precision: ``GenLocBackbone(compute_dtype=...)``."""
import glob
import os.path as osp

import pytest
import torch
from mmengine.config import Config

from conftest import REPO, SHARED_DATA, TINY_CONFIG

SD_CONFIGS = sorted(glob.glob(osp.join(REPO, 'configs', 'genloc', '*', 'genloc_sd*.py')))
AP10K_SD = osp.join(REPO, 'configs', 'genloc', 'ap10k',
                    'genloc_sd15-lora16_8xb25-100e_ap10k-256x256.py')


@pytest.mark.parametrize('config', SD_CONFIGS, ids=osp.basename)
def test_sd_configs_train_and_evaluate_in_bf16(config):
    cfg = Config.fromfile(config)
    assert cfg.model.backbone.compute_dtype == 'bfloat16'
    assert cfg.optim_wrapper.dtype == 'bfloat16'  # training autocasts the head too


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


def test_sd_config_runner_test_runs_unet_in_bf16(tmp_path):
    """Runner.test() of the AP-10K SD config (tiny random U-Net/VAE swapped in, the
    flip-batched estimator, CocoMetric) on the CPU: the VAE and U-Net compute in
    bf16, the frozen weights are stored in bf16, the maps and the head are fp32."""
    from mmengine.runner import Runner
    tiny = Config.fromfile(TINY_CONFIG)
    cfg = Config.fromfile(AP10K_SD)
    root = osp.join(SHARED_DATA, 'ap10k') + '/'
    cfg.merge_from_dict({
        'model.backbone.pretrained': None, 'model.backbone.unet_cfg': tiny.tiny_unet,
        'model.backbone.vae_cfg': tiny.tiny_vae, 'model.backbone.compile': False,
        'test_dataloader.dataset.data_root': root,
        'test_dataloader.dataset.ann_file': 'test_ap10k.json',
        'test_dataloader.dataset.data_prefix': dict(img=''),
        'test_dataloader.num_workers': 0, 'test_dataloader.persistent_workers': False,
        'test_dataloader.batch_size': 2, 'test_evaluator.ann_file': root + 'test_ap10k.json'})
    cfg.work_dir = str(tmp_path)
    runner = Runner.from_cfg(cfg)
    seen = _dtype_probe(runner.model)
    metrics = runner.test()
    assert 'coco/AP' in metrics
    assert seen == dict(vae={torch.bfloat16}, unet={torch.bfloat16},
                        unet_attn={torch.bfloat16}, maps={torch.float32},
                        fused={torch.float32})
    backbone = runner.model.backbone
    frozen = {p.dtype for p in backbone.parameters() if not p.requires_grad}
    trained = {p.dtype for p in backbone.parameters() if p.requires_grad}
    assert frozen == {torch.bfloat16} and trained == {torch.float32}


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
