"""GenLocBackbone: what trains, what stays frozen, weights I/O and bad input."""
import os.path as osp

import pytest
import torch
from mmengine.runner.checkpoint import load_state_dict as mmengine_load_state_dict

from genloc_mmpose.models import GenLocBackbone


def _frozen_snapshot(backbone):
    return {n: p.detach().clone() for n, p in backbone.named_parameters()
            if n.startswith(('unet.', 'vae.')) and 'lora_' not in n}


ATTN_LORA = dict(r=4, lora_alpha=4, target_modules=['to_q', 'to_k', 'to_v', 'to_out.0'])


def test_only_conditions_and_lora_train(build_backbone, images):
    backbone = build_backbone(lora=ATTN_LORA)
    trainable = {n for n, p in backbone.named_parameters() if p.requires_grad}
    assert 'conditions' in trainable
    assert all(n == 'conditions' or '.lora_' in n for n in trainable)
    # LoRA on to_q/to_k/to_v/to_out.0 of every U-Net attention layer
    # LoRA on to_q/to_k/to_v/to_out.0 of every U-Net attention layer, but for the
    # value/output projections of the last CKHE layer, which reach no map
    lora_layers = {n.split('.lora_')[0] for n in trainable if '.lora_' in n}
    num_attn = sum(1 for n, _ in backbone.unet.named_modules() if n.endswith(('attn1', 'attn2')))
    assert len(lora_layers) == 4 * num_attn - 2
    assert not any(n.startswith('vae.') for n in trainable)
    assert backbone.vae.decoder is None  # decoder not kept in memory

    before = _frozen_snapshot(backbone)
    optimizer = torch.optim.Adam(backbone.parameters(), lr=1e-2)
    maps = backbone(images)
    sum((m * torch.rand_like(m)).sum() for m in maps).backward()
    grads = {n: p.grad for n, p in backbone.named_parameters()}
    assert grads['conditions'].abs().sum() > 0
    # every trainable parameter gets a gradient (no unused parameters for DDP)
    assert all(grads[n] is not None for n in trainable)
    assert any(g.abs().sum() > 0 for n, g in grads.items() if 'lora_B' in n)
    assert all(grads[n] is None for n in before)
    optimizer.step()
    backbone.init_weights()
    after = _frozen_snapshot(backbone)
    assert all(torch.equal(before[n], after[n]) for n in before)


def test_init_weights_keeps_everything(build_backbone):
    backbone = build_backbone()
    before = {k: v.clone() for k, v in backbone.state_dict().items()}
    backbone.init_weights()
    assert all(torch.equal(before[k], v) for k, v in backbone.state_dict().items())


def test_lora_starts_as_identity(build_backbone, images):
    plain, with_lora = build_backbone(lora=None), build_backbone()
    with_lora.conditions.data.copy_(plain.conditions)
    with torch.no_grad():
        for a, b in zip(plain(images), with_lora(images)):
            torch.testing.assert_close(a, b, rtol=0, atol=0)


def test_noise_timestep_fresh_in_training_fixed_in_eval(build_backbone, images):
    clean = build_backbone()
    noisy = build_backbone(noise_timestep=601)
    with torch.no_grad():
        reference = clean(images)[0]
        torch.manual_seed(5)
        eval_a = noisy.eval()(images)[0]
        torch.manual_seed(6)
        eval_b = noisy(images)[0]  # other global RNG state, same noise
        train_a, train_b = noisy.train()(images)[0], noisy(images)[0]
    torch.testing.assert_close(eval_a, eval_b, rtol=0, atol=0)
    assert not torch.allclose(train_a, train_b)
    # t=601 really changes the maps (the noise reaches the U-Net)
    assert (eval_a - reference).abs().max() > 1e-4


def test_rejects_input_size_not_multiple_of_divisor(build_backbone):
    backbone = build_backbone()
    assert backbone.size_divisor == 8  # VAE /2, U-Net /4
    with pytest.raises(ValueError, match='multiple of 8.*44x64'):
        backbone(torch.zeros(1, 3, 64, 44))


def test_sd15_divisor_and_slim_checkpoint_size():
    """Full SD-1.5 architecture (on the meta device: no memory, no weights):
    input multiple of 64, 9 CKHE layers, LoRA r=16 + 17 conditions ~13 MB."""
    with torch.device('meta'):
        backbone = GenLocBackbone(num_keypoints=17)
    assert backbone.size_divisor == 64
    assert len(backbone.ckhe_processors) == 9
    trained_bytes = sum(p.numel() * 4 for p in backbone.parameters() if p.requires_grad)
    assert 12e6 < trained_bytes < 14e6, trained_bytes


def test_missing_weights_folder_says_what_to_do(tmp_path):
    with pytest.raises(FileNotFoundError) as err:
        GenLocBackbone(num_keypoints=17, pretrained=str(tmp_path / 'sd15'))
    msg = str(err.value)
    assert osp.join(str(tmp_path / 'sd15'), 'unet', 'config.json') in msg
    assert 'model.backbone.pretrained' in msg


def test_loads_local_diffusers_folder(build_backbone, sd_folder, images):
    folder, unet, vae = sd_folder
    backbone = build_backbone(pretrained=folder)
    base_weight = dict(backbone.unet.named_parameters())[
        'conv_in.weight']
    assert torch.equal(base_weight, unet.conv_in.weight)
    assert torch.equal(backbone.vae.encoder.conv_in.weight, vae.encoder.conv_in.weight)


def test_slim_state_dict_round_trip(build_backbone, sd_folder, images):
    folder, _, _ = sd_folder
    trained = build_backbone(pretrained=folder)
    # train a little so LoRA is no longer the identity
    optimizer = torch.optim.Adam([p for p in trained.parameters() if p.requires_grad], lr=1e-2)
    for _ in range(2):
        optimizer.zero_grad()
        sum(m[:, :, 3, 3].sum() for m in trained(images)).backward()
        optimizer.step()
    state = trained.state_dict()
    assert set(state) == {n for n, p in trained.named_parameters() if p.requires_grad}

    restored = build_backbone(seed=123, pretrained=folder)
    result = restored.load_state_dict(state, strict=True)
    assert not result.missing_keys and not result.unexpected_keys
    with torch.no_grad():
        for a, b in zip(trained(images), restored(images)):
            torch.testing.assert_close(a, b, rtol=0, atol=0)

    # mmengine's loader (used by load_checkpoint / the Runner) reports nothing missing
    messages = []
    again = build_backbone(seed=7, pretrained=folder)

    class Logger:
        def warning(self, msg):
            messages.append(msg)

    mmengine_load_state_dict(again, state, logger=Logger())
    assert messages == []
    torch.testing.assert_close(again.conditions, trained.conditions)


def test_random_weights_save_everything(build_backbone):
    backbone = build_backbone()
    keys = set(backbone.state_dict())
    assert 'unet.conv_in.weight' in keys and 'vae.encoder.conv_in.weight' in keys
