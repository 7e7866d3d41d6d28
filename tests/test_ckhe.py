"""CKHE maps against an independent re-computation from each layer's to_q/to_k."""
import pytest
import torch

from genloc_mmpose.models import CKHEAttnProcessor


def _capture_layer_inputs(backbone):
    """Hook every CKHE layer; return list of (attn, hidden_states, conditions)."""
    records, handles = [], []
    for module in backbone.unet.modules():
        if isinstance(getattr(module, 'processor', None), CKHEAttnProcessor):
            def hook(mod, args, kwargs, out):
                records.append((mod, args[0] if args else kwargs['hidden_states'],
                                kwargs['encoder_hidden_states']))
            handles.append(module.register_forward_hook(hook, with_kwargs=True))
    return records, handles


def _reference_maps(attn, hidden_states, conditions, softmax_dim):
    q = attn.to_q(hidden_states).double()
    k = attn.to_k(conditions).double()
    batch, heads = q.shape[0], attn.heads
    q = q.view(batch, -1, heads, q.shape[-1] // heads).permute(0, 2, 1, 3)
    k = k.view(batch, -1, heads, k.shape[-1] // heads).permute(0, 2, 1, 3)
    logits = torch.einsum('bhkd,bhnd->bhkn', k, q) / q.shape[-1]**0.5
    return logits.softmax(softmax_dim).mean(1)  # (B, K, N)


@pytest.mark.parametrize('map_mode,softmax_dim', [('ckhe', -1), ('cross_attention', -2)])
def test_maps_equal_independent_recomputation(build_backbone, images, map_mode, softmax_dim):
    backbone = build_backbone(map_mode=map_mode)
    records, handles = _capture_layer_inputs(backbone)
    with torch.no_grad():
        maps = backbone(images)
    assert len(maps) == len(records) == 4  # 2 up-blocks with cross-attention x 2 layers
    for corr, (attn, hidden, cond) in zip(maps, records):
        with torch.no_grad():
            ref = _reference_maps(attn, hidden, cond, softmax_dim)
        assert corr.dtype == torch.float32
        torch.testing.assert_close(corr.flatten(2).double(), ref, rtol=1e-5, atol=1e-6)
    for h in handles:
        h.remove()


def test_ckhe_maps_are_distributions_over_tokens(build_backbone, images):
    maps = build_backbone()(images)
    # non-square input 64x48 -> latent 32x24 (VAE /2), up-block levels /2 and /1
    assert [tuple(m.shape) for m in maps] == [(2, 17, 16, 12)] * 2 + [(2, 17, 32, 24)] * 2
    for m in maps:
        torch.testing.assert_close(m.sum((-2, -1)), torch.ones(2, 17))
        assert (m >= 0).all()


def test_cross_attention_mode_normalises_over_conditions(build_backbone, images):
    """Eq. 6: each token's weights over the K conditions sum to 1, not over tokens."""
    maps = build_backbone(map_mode='cross_attention')(images)
    for m in maps:
        torch.testing.assert_close(m.sum(1), torch.ones(m.shape[0], *m.shape[2:]))
        assert not torch.allclose(m.sum((-2, -1)), torch.ones(2, 17))


def test_autocast_keeps_maps_fp32(build_backbone, images):
    backbone = build_backbone()
    with torch.autocast('cpu', dtype=torch.bfloat16):
        maps = backbone(images)
    ref = backbone(images)
    for m, r in zip(maps, ref):
        assert m.dtype == torch.float32
        torch.testing.assert_close(m.sum((-2, -1)), torch.ones(2, 17))
        # bf16 features change the logits a little, not the maps' meaning
        assert (m.flatten(2).argmax(-1) == r.flatten(2).argmax(-1)).float().mean() > 0.8


def test_gradient_checkpointing_gives_same_maps_and_grads(build_backbone, images):
    plain, ckpt = build_backbone(), build_backbone(with_cp=True)
    ckpt.load_state_dict(plain.state_dict())
    grads, outputs = [], []
    for model in (plain, ckpt):
        model.train()
        maps = model(images)
        sum(m[:, :, 0, 0].sum() for m in maps).backward()
        grads.append(model.conditions.grad.clone())
        outputs.append(maps)
    # backward re-ran the checkpointed layers: maps were overwritten, not appended
    assert all(isinstance(p.correlation_map, torch.Tensor) for p in ckpt.ckhe_processors)
    for a, b in zip(*outputs):
        torch.testing.assert_close(a, b)
    torch.testing.assert_close(grads[0], grads[1])
    assert grads[0].abs().sum() > 0


def test_rejects_bad_map_mode():
    with pytest.raises(ValueError, match='map_mode'):
        CKHEAttnProcessor('softmax_over_heads')
