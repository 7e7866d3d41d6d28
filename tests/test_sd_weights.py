"""`pretrained` in every accepted form (genloc_mmpose/models/sd_weights.py): fp16/bf16
variant folders, original-layout single files, SD-2.x- and SDXL-style U-Nets, the
full-size architectures on the meta device, and one clear error per wrong form."""
import argparse
import copy
import os.path as osp

import pytest
import torch
from diffusers import AutoencoderKL, UNet2DConditionModel
from diffusers.loaders.single_file_utils import (convert_ldm_unet_checkpoint,
                                                 convert_ldm_vae_checkpoint)
from mmengine.config import Config
from safetensors.torch import save_file
from test_ckhe import _capture_layer_inputs, _reference_maps

from genloc_mmpose.models import GenLocBackbone
from genloc_mmpose.models.sd_weights import ARCH_DIR, ARCHS, recognise_arch

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
SD21_CONFIG = osp.join(REPO, 'configs', 'genloc', 'ap10k',
                       'genloc_sd21-lora16_8xb25-100e_ap10k-256x256.py')
SD15_CONFIG = osp.join(REPO, 'configs', 'genloc', 'ap10k',
                       'genloc_sd15-lora16_8xb25-100e_ap10k-256x256.py')
# Tiny variants of the SD-2.x / SDXL U-Net designs, on top of the tiny SD-1.x-style
# U-Net of the tiny config: per-block head counts, linear proj_in/out, wider text;
# SDXL also: no attention in the first block, 2 transformer layers in the deepest
# block and the added text_time conditions (pooled text 16 + 6 time ids x 8).
STYLES = {
    'sd1': dict(),
    'sd2': dict(cross_attention_dim=48, attention_head_dim=(1, 2, 2),
                use_linear_projection=True, only_cross_attention=False),
    'sdxl': dict(cross_attention_dim=40, attention_head_dim=(1, 2, 2),
                 use_linear_projection=True, only_cross_attention=False,
                 down_block_types=('DownBlock2D', 'CrossAttnDownBlock2D',
                                   'CrossAttnDownBlock2D'),
                 up_block_types=('CrossAttnUpBlock2D', 'CrossAttnUpBlock2D', 'UpBlock2D'),
                 transformer_layers_per_block=(1, 1, 2), addition_embed_type='text_time',
                 addition_time_embed_dim=8, projection_class_embeddings_input_dim=16 + 6 * 8),
}


# --- the original (LDM) key layout, written as the inverse of diffusers' converters ---
RESNET = (('norm1', 'in_layers.0'), ('conv1', 'in_layers.2'), ('norm2', 'out_layers.0'),
          ('conv2', 'out_layers.3'), ('time_emb_proj', 'emb_layers.1'),
          ('conv_shortcut', 'skip_connection'))
VAE_ATTN = (('group_norm', 'norm'), ('to_q', 'q'), ('to_k', 'k'), ('to_v', 'v'),
            ('to_out.0', 'proj_out'))


def _unet_prefixes(config):
    """(diffusers prefix, LDM prefix, is_resnet) for every U-Net module."""
    layers, blocks = config['layers_per_block'], len(config['block_out_channels'])
    pairs = [('time_embedding.linear_1.', 'time_embed.0.', False),
             ('time_embedding.linear_2.', 'time_embed.2.', False),
             ('add_embedding.linear_1.', 'label_emb.0.0.', False),
             ('add_embedding.linear_2.', 'label_emb.0.2.', False),
             ('conv_in.', 'input_blocks.0.0.', False), ('conv_norm_out.', 'out.0.', False),
             ('conv_out.', 'out.2.', False), ('mid_block.resnets.0.', 'middle_block.0.', True),
             ('mid_block.attentions.0.', 'middle_block.1.', False),
             ('mid_block.resnets.1.', 'middle_block.2.', True)]
    for i in range(blocks):
        for j in range(layers):
            block = (layers + 1) * i + j + 1
            pairs += [(f'down_blocks.{i}.resnets.{j}.', f'input_blocks.{block}.0.', True),
                      (f'down_blocks.{i}.attentions.{j}.', f'input_blocks.{block}.1.', False)]
        pairs.append((f'down_blocks.{i}.downsamplers.0.conv.',
                      f'input_blocks.{(layers + 1) * (i + 1)}.0.op.', False))
        for j in range(layers + 1):
            block = (layers + 1) * i + j
            pairs += [(f'up_blocks.{i}.resnets.{j}.', f'output_blocks.{block}.0.', True),
                      (f'up_blocks.{i}.attentions.{j}.', f'output_blocks.{block}.1.', False)]
        upsampler = 2 if config['up_block_types'][i].startswith('CrossAttn') else 1
        pairs.append((f'up_blocks.{i}.upsamplers.0.conv.',
                      f'output_blocks.{(layers + 1) * i + layers}.{upsampler}.conv.', False))
    return pairs


def _vae_prefixes(config):
    blocks, layers = len(config['block_out_channels']), config['layers_per_block']
    pairs = [(f'{part}.conv_norm_out.', f'{part}.norm_out.') for part in ('encoder', 'decoder')]
    for part in ('encoder', 'decoder'):
        pairs += [(f'{part}.mid_block.resnets.0.', f'{part}.mid.block_1.'),
                  (f'{part}.mid_block.resnets.1.', f'{part}.mid.block_2.'),
                  (f'{part}.mid_block.attentions.0.', f'{part}.mid.attn_1.')]
    for i in range(blocks):
        pairs += [(f'encoder.down_blocks.{i}.resnets.{j}.', f'encoder.down.{i}.block.{j}.')
                  for j in range(layers)]
        pairs.append((f'encoder.down_blocks.{i}.downsamplers.0.conv.',
                      f'encoder.down.{i}.downsample.conv.'))
        up = blocks - 1 - i
        pairs += [(f'decoder.up_blocks.{i}.resnets.{j}.', f'decoder.up.{up}.block.{j}.')
                  for j in range(layers + 1)]
        pairs.append((f'decoder.up_blocks.{i}.upsamplers.0.conv.',
                      f'decoder.up.{up}.upsample.conv.'))
    return pairs


def _rename(key, pairs):
    matches = [pair for pair in pairs if key.startswith(pair[0])]
    if not matches:
        return key, None
    pair = max(matches, key=lambda p: len(p[0]))
    return pair[1] + key[len(pair[0]):], pair


def original_layout(unet_state, unet_config, vae_state, vae_config):
    """diffusers U-Net/VAE state dicts -> one checkpoint in the original SD layout
    (``model.diffusion_model.*``, ``first_stage_model.*``, 1x1-conv VAE attention),
    plus a text-encoder tensor as in real files."""
    ldm = {'cond_stage_model.transformer.text_model.final_layer_norm.weight': torch.ones(4)}
    unet_pairs = _unet_prefixes(unet_config)
    for key, value in unet_state.items():
        new, pair = _rename(key, unet_pairs)
        assert pair is not None, key
        if pair[2]:
            head, tail = new[:len(pair[1])], new[len(pair[1]):]
            for old, ldm_name in RESNET:
                tail = tail.replace(old, ldm_name)
            new = head + tail
        ldm['model.diffusion_model.' + new] = value
    vae_pairs = _vae_prefixes(vae_config)
    for key, value in vae_state.items():
        new, pair = _rename(key, vae_pairs)
        if '.attn_1.' in new:
            for old, ldm_name in VAE_ATTN:
                new = new.replace(f'.attn_1.{old}.', f'.attn_1.{ldm_name}.')
            value = value[..., None, None] if value.ndim == 2 else value
        ldm['first_stage_model.' + new.replace('conv_shortcut', 'nin_shortcut')] = value
    return ldm


def _round_trip(ldm, unet_state, unet_config, vae_state, vae_config):
    """diffusers' own converters read the written layout back to the same keys."""
    unet_back = convert_ldm_unet_checkpoint(ldm, unet_config)
    vae_back = convert_ldm_vae_checkpoint(ldm, vae_config)
    assert set(unet_back) == set(unet_state) and set(vae_back) == set(vae_state)
    for back, state in ((unet_back, unet_state), (vae_back, vae_state)):
        assert all(back[k].shape == state[k].shape for k in state)


# --- tiny models of each style -----------------------------------------------------
def _tiny_cfgs(tiny_cfg, style):
    unet_cfg = dict(tiny_cfg.model.backbone.unet_cfg)
    unet_cfg.update(STYLES[style])
    return unet_cfg, dict(tiny_cfg.model.backbone.vae_cfg)


@pytest.fixture(scope='module')
def tiny_sd(tiny_cfg):
    """style -> (unet_cfg, vae_cfg, unet, vae): tiny random models, seeded."""
    models = {}
    for style in STYLES:
        unet_cfg, vae_cfg = _tiny_cfgs(tiny_cfg, style)
        torch.manual_seed(11)
        models[style] = (unet_cfg, vae_cfg, UNet2DConditionModel.from_config(unet_cfg),
                         AutoencoderKL.from_config(vae_cfg))
    return models


def _save_folder(folder, unet, vae, variant=None, dtype=torch.float32):
    for sub, model in (('unet', unet), ('vae', vae)):
        copy.deepcopy(model).to(dtype).save_pretrained(folder / sub, variant=variant)
    return str(folder)


def _expected_ckhe_layers(unet_cfg):
    """Stride w.r.t. the latent of each up-block cross-attention layer, in U-Net
    order (one CKHE map each), from the config alone."""
    layers = unet_cfg['layers_per_block'] + 1
    depth = unet_cfg.get('transformer_layers_per_block', 1)
    depth = depth if isinstance(depth, (list, tuple)) else [depth] * len(
        unet_cfg['block_out_channels'])
    num_up = len(unet_cfg['up_block_types'])
    strides = []
    for i, (kind, blocks) in enumerate(zip(unet_cfg['up_block_types'], depth[::-1])):
        if kind.startswith('CrossAttn'):
            strides += [2**(num_up - 1 - i)] * layers * blocks
    return strides


def _assert_slim(backbone):
    state = backbone.state_dict()
    assert set(state) == {n for n, p in backbone.named_parameters() if p.requires_grad}
    assert not any(k.startswith(('unet.base_model', 'vae.')) or '.lora_' not in k
                   for k in state if k != 'conditions')


# --- folders -------------------------------------------------------------------------
@pytest.mark.parametrize('variant,dtype', [('fp16', torch.float16), ('bf16', torch.bfloat16)])
def test_variant_only_folder(build_backbone, tiny_sd, tmp_path, images, variant, dtype):
    unet_cfg, vae_cfg, unet, vae = tiny_sd['sd1']
    folder = _save_folder(tmp_path, unet, vae, variant=variant, dtype=dtype)
    assert sorted(p.name for p in (tmp_path / 'unet').iterdir()) == [
        'config.json', f'diffusion_pytorch_model.{variant}.safetensors']
    backbone = build_backbone(pretrained=folder)
    for model, ref in ((backbone.unet, unet), (backbone.vae, vae)):
        loaded = {k.replace('.base_layer', ''): v for k, v in model.state_dict().items()
                  if 'lora_' not in k}
        for key, value in ref.state_dict().items():
            if key in loaded:  # the VAE decoder is dropped
                assert loaded[key].dtype == torch.float32
                torch.testing.assert_close(loaded[key], value.to(dtype).float(), rtol=0, atol=0)
    assert 'unet.conv_in.weight' not in backbone.state_dict()
    _assert_slim(backbone)
    with torch.no_grad():
        for m in backbone(images):
            torch.testing.assert_close(m.sum((-2, -1)), torch.ones(2, 17))


@pytest.mark.parametrize('style', ['sd2', 'sdxl'])
def test_sd2_and_sdxl_style_folders(build_backbone, tiny_sd, tmp_path, images, style):
    unet_cfg, _, unet, vae = tiny_sd[style]
    backbone = build_backbone(pretrained=_save_folder(tmp_path, unet, vae))
    assert backbone.conditions.shape == (17, unet_cfg['cross_attention_dim'])
    records, handles = _capture_layer_inputs(backbone)
    maps = backbone(images)
    for handle in handles:
        handle.remove()
    strides = _expected_ckhe_layers(unet_cfg)
    assert len(maps) == len(strides) == (6 if style == 'sdxl' else 4)
    # latent 32x24 (VAE /2); each map as fine as its up-block
    assert [tuple(m.shape) for m in maps] == [(2, 17, 32 // s, 24 // s) for s in strides]
    for m, (attn, hidden, cond) in zip(maps, records):
        torch.testing.assert_close(m.sum((-2, -1)), torch.ones(2, 17))
        with torch.no_grad():
            ref = _reference_maps(attn, hidden, cond, -1)
        torch.testing.assert_close(m.detach().flatten(2).double(), ref, rtol=1e-5, atol=1e-6)
    # every trained parameter reaches a map (DDP), and checkpoints stay slim
    sum((m * torch.rand_like(m)).sum() for m in maps).backward()
    assert all(p.grad is not None for p in backbone.parameters() if p.requires_grad)
    _assert_slim(backbone)


def test_sdxl_added_conditions(build_backbone, tiny_sd, tmp_path, images):
    """Zero pooled text (B, 16) and time ids (H, W, 0, 0, H, W) of the crop; the maps
    equal those of the U-Net called with conditions built here."""
    unet_cfg, _, unet, vae = tiny_sd['sdxl']
    backbone = build_backbone(pretrained=_save_folder(tmp_path, unet, vae))
    added = backbone._added_cond_kwargs(images)
    assert set(added) == {'text_embeds', 'time_ids'}
    torch.testing.assert_close(added['text_embeds'], torch.zeros(2, 16), rtol=0, atol=0)
    torch.testing.assert_close(added['time_ids'],
                               torch.tensor([[64., 48., 0., 0., 64., 48.]] * 2), rtol=0, atol=0)
    with torch.no_grad():
        maps = backbone(images)
        backbone.unet(backbone.encode(images), 0,
                      encoder_hidden_states=backbone.conditions[None].expand(2, -1, -1),
                      added_cond_kwargs=dict(text_embeds=torch.zeros(2, 16),
                                             time_ids=torch.tensor([[64, 48, 0, 0, 64, 48]] * 2)))
    direct = [p.correlation_map for p in backbone.ckhe_processors]
    for m, d in zip(maps, direct):
        torch.testing.assert_close(m.flatten(2), d, rtol=0, atol=0)
    assert build_backbone()._added_cond_kwargs(images) is None  # SD-1.x style


# --- single files --------------------------------------------------------------------
@pytest.mark.parametrize('style,suffix,dtype', [('sd1', '.safetensors', torch.float16),
                                                ('sd1', '.ckpt', torch.float32),
                                                ('sd2', '.safetensors', torch.float32),
                                                ('sdxl', '.safetensors', torch.bfloat16)])
def test_single_file_loads_like_its_folder(build_backbone, tiny_sd, tmp_path, images, style,
                                           suffix, dtype):
    """Released files are mostly fp16: both forms load to the same fp32 weights."""
    unet_cfg, vae_cfg, unet, vae = tiny_sd[style]
    variant = {torch.float16: 'fp16', torch.bfloat16: 'bf16'}.get(dtype)
    folder = _save_folder(tmp_path / 'folder', unet, vae, variant=variant, dtype=dtype)
    unet_state = {k: v.to(dtype) for k, v in unet.state_dict().items()}
    vae_state = {k: v.to(dtype) for k, v in vae.state_dict().items()}
    ldm = original_layout(unet_state, unet_cfg, vae_state, vae_cfg)
    _round_trip(ldm, unet_state, unet_cfg, vae_state, vae_cfg)
    path = str(tmp_path / f'model{suffix}')
    if suffix == '.safetensors':
        save_file({k: v.contiguous() for k, v in ldm.items()}, path)
    else:
        torch.save({'state_dict': ldm, 'global_step': 7}, path)
    # tiny sizes are no shipped architecture: given by unet_cfg/vae_cfg
    from_file = build_backbone(pretrained=path, unet_cfg=unet_cfg)
    from_folder = build_backbone(seed=5, pretrained=folder)
    for a, b in ((from_file.unet, from_folder.unet), (from_file.vae, from_folder.vae)):
        state_a, state_b = a.state_dict(), b.state_dict()
        assert set(state_a) == set(state_b)
        frozen = [k for k in state_a if 'lora_' not in k]
        assert all(state_a[k].dtype == torch.float32 for k in frozen)
        assert all(torch.equal(state_a[k], state_b[k]) for k in frozen)
    _assert_slim(from_file)
    # the same trained state (slim) in both -> the same maps
    from_file.load_state_dict(from_folder.state_dict(), strict=True)
    with torch.no_grad():
        for a, b in zip(from_file(images), from_folder(images)):
            torch.testing.assert_close(a, b, rtol=0, atol=0)


SIGNATURES = {  # full-size U-Net weights as they are in the released files
    'SD-1.x': {'input_blocks.0.0.weight': (320, 4, 3, 3),
               'input_blocks.1.1.transformer_blocks.0.attn2.to_k.weight': (320, 768)},
    'SD-2.x': {'input_blocks.0.0.weight': (320, 4, 3, 3),
               'input_blocks.1.1.transformer_blocks.0.attn2.to_k.weight': (320, 1024)},
    'SDXL': {'input_blocks.0.0.weight': (320, 4, 3, 3),
             'input_blocks.4.1.transformer_blocks.0.attn2.to_k.weight': (640, 2048),
             'label_emb.0.0.weight': (1280, 2816)},
    None: {'input_blocks.0.0.weight': (320, 9, 3, 3),  # SD-2 inpainting
           'input_blocks.1.1.transformer_blocks.0.attn2.to_k.weight': (320, 1024)},
}


@pytest.mark.parametrize('arch', list(SIGNATURES))
def test_recognises_full_size_architectures(arch):
    state = {'model.diffusion_model.' + k: torch.empty(shape, device='meta')
             for k, shape in SIGNATURES[arch].items()}
    assert recognise_arch(state) == arch


@pytest.mark.parametrize('arch', list(ARCHS))
def test_full_size_original_layout_round_trip_on_meta(arch):
    """Every weight of the shipped architectures has its place in the original
    layout that from_single_file converts (shapes only, meta device)."""
    unet_json, vae_json = ARCHS[arch]
    unet_cfg, vae_cfg = (UNet2DConditionModel.load_config(unet_json),
                         AutoencoderKL.load_config(vae_json))
    with torch.device('meta'):
        unet = UNet2DConditionModel.from_config(unet_cfg)
        vae = AutoencoderKL.from_config(vae_cfg)
    ldm = original_layout(unet.state_dict(), unet_cfg, vae.state_dict(), vae_cfg)
    _round_trip(ldm, unet.state_dict(), unet_cfg, vae.state_dict(), vae_cfg)
    assert recognise_arch(ldm) == arch


@pytest.mark.parametrize('arch,layers,width,divisor', [('SD-1.x', 9, 768, 64),
                                                       ('SD-2.x', 9, 1024, 64),
                                                       ('SDXL', 36, 2048, 32)])
def test_full_size_ckhe_layers_and_conditions_on_meta(arch, layers, width, divisor):
    unet_json, vae_json = ARCHS[arch]
    with torch.device('meta'):
        backbone = GenLocBackbone(num_keypoints=17, unet_cfg=unet_json, vae_cfg=vae_json)
        added = backbone._added_cond_kwargs(torch.empty(2, 3, 512, 384))
    assert len(backbone.ckhe_processors) == layers
    assert backbone.conditions.shape == (17, width)
    assert backbone.size_divisor == divisor
    if arch == 'SDXL':  # pooled text of OpenCLIP bigG: 1280; 6 time ids
        assert added['text_embeds'].shape == (2, 1280) and added['time_ids'].shape == (2, 6)
    else:
        assert added is None


# --- wrong forms ---------------------------------------------------------------------
def _original_file(tiny_sd, path, drop=(), style='sd1'):
    unet_cfg, vae_cfg, unet, vae = tiny_sd[style]
    ldm = original_layout(unet.state_dict(), unet_cfg, vae.state_dict(), vae_cfg)
    save_file({k: v.contiguous() for k, v in ldm.items() if not k.startswith(drop)}, path)
    return str(path)


def test_missing_path(tmp_path):
    with pytest.raises(FileNotFoundError, match='neither a folder .* nor a checkpoint file'
                       '.*fp16 or bf16 variant.*weights_only'):
        GenLocBackbone(num_keypoints=3, pretrained=str(tmp_path / 'nothing'))


def test_folder_holding_a_checkpoint_file_points_to_it(tmp_path, tiny_sd):
    path = _original_file(tiny_sd, tmp_path / 'dreamshaper.safetensors')
    with pytest.raises(FileNotFoundError, match=f'pass one of them.*{path}'):
        GenLocBackbone(num_keypoints=3, pretrained=str(tmp_path))


def test_folder_without_weights(tmp_path, tiny_sd):
    _save_folder(tmp_path, *tiny_sd['sd1'][2:])
    (tmp_path / 'vae' / 'diffusion_pytorch_model.safetensors').rename(
        tmp_path / 'vae' / 'diffusion_pytorch_model.fp8.safetensors')
    with pytest.raises(FileNotFoundError, match='vae holds no weights.*fp8'):
        GenLocBackbone(num_keypoints=3, pretrained=str(tmp_path))


def test_other_file_types(tmp_path, tiny_sd):
    unet_cfg, vae_cfg, unet, vae = tiny_sd['sd1']
    torch.save(unet.state_dict(), tmp_path / 'model.pt')
    with pytest.raises(ValueError, match=r'model\.pt is a file but not a \.safetensors'):
        GenLocBackbone(num_keypoints=3, pretrained=str(tmp_path / 'model.pt'))
    # a pickle with more than tensors is never unpickled
    ldm = original_layout(unet.state_dict(), unet_cfg, vae.state_dict(), vae_cfg)
    torch.save({'state_dict': ldm, 'args': argparse.Namespace(lr=1)}, tmp_path / 'model.ckpt')
    with pytest.raises(ValueError,
                       match=r'weights_only=True\): it holds a pickled argparse\.Namespace'):
        GenLocBackbone(num_keypoints=3, pretrained=str(tmp_path / 'model.ckpt'))


@pytest.mark.parametrize('what', ['diffusers component', 'VAE only', 'U-Net only'])
def test_not_a_full_checkpoint(tmp_path, tiny_sd, what):
    path = tmp_path / 'x.safetensors'
    if what == 'diffusers component':
        save_file(tiny_sd['sd1'][2].state_dict(), path)
        match = 'has no U-Net .* and no VAE .*conv_in.weight'
    else:
        drop = 'model.diffusion_model.' if what == 'VAE only' else 'first_stage_model.'
        _original_file(tiny_sd, path, drop=drop)
        match = 'has no U-Net' if what == 'VAE only' else 'has a U-Net .* and no VAE'
    with pytest.raises(ValueError, match=match):
        GenLocBackbone(num_keypoints=3, pretrained=str(path))


def test_unrecognised_architecture_and_missing_weights(tmp_path, tiny_sd):
    unet_cfg, vae_cfg = tiny_sd['sd1'][:2]
    path = _original_file(tiny_sd, tmp_path / 'tiny.safetensors')
    # the default unet_cfg (SD-1.5) does not match the tiny file, nor does a shipped arch
    with pytest.raises(ValueError, match=r"\(4, 16, 32, None\) matches no shipped .*"
                       r"'SD-2.x': \(4, 320, 1024, None\).*unet_cfg \(4, 320, 768, None\)"):
        GenLocBackbone(num_keypoints=3, pretrained=path)
    path = _original_file(tiny_sd, tmp_path / 'cut.safetensors',
                          drop='model.diffusion_model.output_blocks.2.')
    with pytest.raises(ValueError, match='UNet2DConditionModel does not load into the '
                       'unet_cfg/vae_cfg architecture .*lacks some of its weights'):
        GenLocBackbone(num_keypoints=3, pretrained=path, unet_cfg=unet_cfg, vae_cfg=vae_cfg)


def test_unsupported_unet(tmp_path, tiny_sd):
    unet_cfg, _, _, vae = tiny_sd['sd1']
    inpainting = UNet2DConditionModel.from_config(dict(unet_cfg, in_channels=9))
    with pytest.raises(ValueError, match='in_channels=9.*inpainting'):
        GenLocBackbone(num_keypoints=3, pretrained=_save_folder(tmp_path, inpainting, vae))


# --- the SD-2.1 config -------------------------------------------------------------
def test_sd21_config_same_recipe_sd21_architecture():
    sd21, sd15 = Config.fromfile(SD21_CONFIG), Config.fromfile(SD15_CONFIG)
    backbone = sd21.model.backbone.to_dict()
    assert osp.join(ARCH_DIR, backbone.pop('unet_cfg')) == ARCHS['SD-2.x'][0]
    assert backbone.pop('pretrained') == 'checkpoints/stable-diffusion-2-1-base'
    sd15_backbone = sd15.model.backbone.to_dict()
    sd15_backbone.pop('pretrained')
    assert backbone == sd15_backbone
    for key in set(sd15) | set(sd21):
        if key not in ('model', 'sd_weights', 'filename'):
            assert sd21.get(key) == sd15.get(key), key
    assert {k: v for k, v in sd21.model.items() if k != 'backbone'} == {
        k: v for k, v in sd15.model.items() if k != 'backbone'}
    # pretrained=None (as tools/benchmark.py --random-weights) builds SD-2.1
    backbone = dict(sd21.model.backbone, pretrained=None, compile=False)
    backbone.pop('type')
    with torch.device('meta'):
        model = GenLocBackbone(**backbone)
    assert model.conditions.shape == (17, 1024)
    assert model.unet.config.use_linear_projection
    assert list(model.unet.config.attention_head_dim) == [5, 10, 20, 20]
