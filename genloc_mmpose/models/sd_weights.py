"""Stable Diffusion U-Net + VAE from ``pretrained`` in the forms users have them.

All forms load offline, in fp32:

1. a diffusers folder with ``unet/`` and ``vae/`` (``config.json`` and
   ``diffusion_pytorch_model.safetensors``, ``.bin`` or sharded);
2. the same holding only ``fp16`` / ``bf16`` variant files
   (``diffusion_pytorch_model.fp16.safetensors``), found per sub-folder (diffusers
   ``variant=``);
3. one checkpoint file in the original (LDM / A1111 / ComfyUI) key layout,
   ``.safetensors`` or ``.ckpt`` (read with ``torch.load(weights_only=True)``), read
   with diffusers' ``from_single_file`` into an architecture config shipped in
   ``genloc_mmpose/configs``: SD-1.x, SD-2.x (also SD-Turbo) or SDXL, recognised from
   the file's U-Net (see :func:`checkpoint_signature`). ``unet_cfg``/``vae_cfg`` are
   used instead when they match the file (their way to give the architecture).
"""
import inspect
import json
import os
import os.path as osp
import pickle
import re
import tempfile
from contextlib import contextmanager
from typing import Optional, Sequence, Tuple

import torch
from diffusers import AutoencoderKL, UNet2DConditionModel
from diffusers.loaders import single_file_utils
from diffusers.loaders.single_file_utils import LDM_UNET_KEY, SingleFileComponentError
from diffusers.utils import (SAFE_WEIGHTS_INDEX_NAME, SAFETENSORS_WEIGHTS_NAME,
                             WEIGHTS_INDEX_NAME, WEIGHTS_NAME, _add_variant)
from mmengine.logging import print_log

from ..resources import ARCH_DIR

# VAE key prefixes of original-format files (diffusers < 0.31 reads only SD's own)
LDM_VAE_KEYS = (getattr(single_file_utils, 'LDM_VAE_KEYS', None)
                or [single_file_utils.LDM_VAE_KEY])
# Shipped architectures for single files: name -> (U-Net json, VAE json). SD-2.x
# uses the SD-1.x VAE architecture; SDXL's differs in its scaling factor only.
ARCHS = {
    name: (osp.join(ARCH_DIR, unet), osp.join(ARCH_DIR, vae))
    for name, unet, vae in (('SD-1.x', 'sd15_unet.json', 'sd15_vae.json'),
                            ('SD-2.x', 'sd21_unet.json', 'sd15_vae.json'),
                            ('SDXL', 'sdxl_unet.json', 'sdxl_vae.json'))
}
VARIANTS = (None, 'fp16', 'bf16')
WEIGHT_FILES = (SAFETENSORS_WEIGHTS_NAME, WEIGHTS_NAME, SAFE_WEIGHTS_INDEX_NAME,
                WEIGHTS_INDEX_NAME)
CHECKPOINT_SUFFIXES = ('.safetensors', '.ckpt')

WEIGHTS_HELP = (
    'model.backbone.pretrained accepts, with nothing downloaded: (1) a diffusers '
    'folder holding unet/ and vae/ (config.json + diffusion_pytorch_model.safetensors '
    'or .bin), e.g. checkpoints/stable-diffusion-v1-5; (2) the same with only fp16 or '
    'bf16 variant files (diffusion_pytorch_model.fp16.safetensors), found '
    'automatically; (3) one original-format checkpoint file (.safetensors, or .ckpt '
    'readable with torch.load(weights_only=True)) of SD-1.x, SD-2.x / SD-Turbo or SDXL, '
    'e.g. v1-5-pruned-emaonly.safetensors; or None for random weights from '
    'unet_cfg/vae_cfg. To fetch SD-1.5 on a machine with internet: '
    '`huggingface-cli download stable-diffusion-v1-5/stable-diffusion-v1-5 --include '
    '"unet/*" "vae/*" --local-dir <folder>`.')

_UNET_DEFAULTS = {
    name: param.default
    for name, param in inspect.signature(UNet2DConditionModel.__init__).parameters.items()
}


def unet_signature(unet_cfg: dict) -> tuple:
    """What a single file reveals of a U-Net config: (in_channels, first block
    width, cross-attention width, added-conditions input width or None)."""
    cfg = {**_UNET_DEFAULTS, **unet_cfg}
    added = (cfg['projection_class_embeddings_input_dim']
             if cfg['addition_embed_type'] or cfg['class_embed_type'] else None)
    return (cfg['in_channels'], cfg['block_out_channels'][0], cfg['cross_attention_dim'],
            added)


def checkpoint_signature(state: dict) -> tuple:
    """:func:`unet_signature` of the U-Net in an original-layout state dict, read
    from the shapes of its ``input_blocks.0.0`` conv, ``attn2.to_k`` and
    ``label_emb`` (SDXL's added conditions) weights."""
    conv_in = state[LDM_UNET_KEY + 'input_blocks.0.0.weight']
    to_k = next((value for key, value in state.items()
                 if key.startswith(LDM_UNET_KEY) and key.endswith('attn2.to_k.weight')), None)
    label_emb = state.get(LDM_UNET_KEY + 'label_emb.0.0.weight')
    return (conv_in.shape[1], conv_in.shape[0], None if to_k is None else to_k.shape[1],
            None if label_emb is None else label_emb.shape[1])


def recognise_arch(state: dict) -> Optional[str]:
    """The shipped architecture (a key of ``ARCHS``) of an original-layout state
    dict, or None."""
    signature = checkpoint_signature(state)
    return next((name for name, (unet_json, _) in ARCHS.items()
                 if unet_signature(UNet2DConditionModel.load_config(unet_json)) == signature),
                None)


def load_sd_weights(pretrained: str, unet_cfg: dict,
                    vae_cfg: dict) -> Tuple[UNet2DConditionModel, AutoencoderKL]:
    """U-Net and VAE from ``pretrained`` in any accepted form (module docstring).

    ``unet_cfg``/``vae_cfg`` (diffusers config dicts) are only used for a single
    file whose U-Net they match. Raises FileNotFoundError / ValueError naming what
    was found, with the accepted forms.
    """
    path = osp.expanduser(str(pretrained))
    if osp.isdir(path):
        unet, vae = _load_folder(path)
    elif osp.isfile(path):
        unet, vae = _load_single_file(path, unet_cfg, vae_cfg)
    else:
        raise FileNotFoundError(
            f'Stable Diffusion weights not found: {path} is neither a folder (expected '
            f'{osp.join(path, "unet", "config.json")} and '
            f'{osp.join(path, "vae", "config.json")}) nor a checkpoint file. ' + WEIGHTS_HELP)
    _check_supported(unet, vae, path)
    return unet, vae


def _load_folder(path: str) -> Tuple[UNet2DConditionModel, AutoencoderKL]:
    missing = [osp.join(path, sub, 'config.json') for sub in ('unet', 'vae')
               if not osp.isfile(osp.join(path, sub, 'config.json'))]
    if missing:
        found = sorted(os.listdir(path))
        files = [f for f in found if f.endswith(CHECKPOINT_SUFFIXES)]
        hint = (f' It holds checkpoint files: pass one of them as pretrained '
                f'({", ".join(osp.join(path, f) for f in files)}).' if files else '')
        raise FileNotFoundError(
            f'Stable Diffusion weights not found: expected {" and ".join(missing)}; '
            f'{path} holds {found[:10]}{" ..." if len(found) > 10 else ""}.{hint} '
            + WEIGHTS_HELP)
    kwargs = dict(local_files_only=True, torch_dtype=torch.float32)
    models = []
    for model, sub in ((UNet2DConditionModel, 'unet'), (AutoencoderKL, 'vae')):
        folder = osp.join(path, sub)
        variant = weight_variant(folder, WEIGHT_FILES, 'weights', WEIGHTS_HELP)
        try:
            models.append(model.from_pretrained(path, subfolder=sub, variant=variant,
                                                **kwargs))
        except (OSError, ValueError, RuntimeError) as err:
            raise ValueError(
                f'{folder}: its {model.__name__} weights cannot be loaded '
                f'({type(err).__name__}: {err}). A truncated or foreign weight file '
                f'({", ".join(sorted(os.listdir(folder)))}): download it again. '
                + WEIGHTS_HELP) from err
    return tuple(models)


def weight_variant(folder: str, weight_names: Sequence[str], what: str,
                   help_text: str) -> Optional[str]:
    """The variant of the weights in ``folder`` for ``from_pretrained(variant=...)``:
    None when it holds one of ``weight_names`` (full precision, single or sharded),
    else ``'fp16'`` / ``'bf16'`` when it holds only such variant files (as many SD
    downloads). Raises FileNotFoundError naming ``folder``, ``what`` it should hold,
    the files expected and found, then ``help_text``."""
    files = set(os.listdir(folder))
    for variant in VARIANTS:
        if files & {_add_variant(name, variant) for name in weight_names}:
            return variant
    other = ' / '.join(v for v in VARIANTS if v)
    raise FileNotFoundError(
        f'{folder} holds no {what}: expected one of {list(weight_names)} or their {other} '
        f'variant (such as {_add_variant(weight_names[0], VARIANTS[1])}); found '
        f'{sorted(files)}. ' + help_text)


def _read_checkpoint(path: str) -> dict:
    """State dict of a ``.safetensors`` / ``.ckpt`` file (nested ``state_dict``
    unwrapped); ``.ckpt`` only through ``torch.load(weights_only=True)``."""
    if path.endswith('.safetensors'):
        from safetensors import SafetensorError
        from safetensors.torch import load_file
        try:
            state = load_file(path)
        except (SafetensorError, OSError, ValueError) as err:
            raise ValueError(_unreadable(path, err)) from err
    elif path.endswith('.ckpt'):
        try:
            state = torch.load(path, map_location='cpu', weights_only=True)
        except (RuntimeError, EOFError, OSError) as err:  # truncated / not a torch file
            raise ValueError(_unreadable(path, err)) from err
        except pickle.UnpicklingError as err:
            # torch >= 2.4: "Unsupported global: GLOBAL mod.Name"; before: "Unsupported
            # class mod.Name"
            found = re.search(r'(?:GLOBAL|Unsupported class) (\S+)', str(err))
            if found is None:  # not a pickle at all (e.g. "invalid load key")
                raise ValueError(_unreadable(path, err)) from err
            raise ValueError(
                f'{path} cannot be read with torch.load(weights_only=True): it holds '
                f'a pickled {found.group(1).rstrip(".")}. '
                'Arbitrary pickles are not loaded; convert the file once to .safetensors '
                'where you trust it, or use a .safetensors download. ' + WEIGHTS_HELP
            ) from err
    else:
        raise ValueError(f'{path} is a file but not a .safetensors or .ckpt checkpoint. '
                         + WEIGHTS_HELP)
    while isinstance(state, dict) and isinstance(state.get('state_dict'), dict):
        state = state['state_dict']
    return state


def _unreadable(path: str, err: Exception) -> str:
    size = osp.getsize(path)
    return (f'{path} ({size} bytes) cannot be read as a {osp.splitext(path)[1]} checkpoint: '
            f'{type(err).__name__}: {err}. It is truncated (an interrupted download or '
            'copy) or not a checkpoint file: download it again and compare its size and '
            'sha256 with the source. ' + WEIGHTS_HELP)


def _load_single_file(path: str, unet_cfg: dict,
                      vae_cfg: dict) -> Tuple[UNet2DConditionModel, AutoencoderKL]:
    state = _read_checkpoint(path)
    has_unet = LDM_UNET_KEY + 'input_blocks.0.0.weight' in state
    has_vae = any(key.startswith(tuple(LDM_VAE_KEYS)) for key in state)
    if not (has_unet and has_vae):
        keys = [key for key in state if isinstance(key, str)][:3]
        raise ValueError(
            f'{path} is not a full Stable Diffusion checkpoint in the original layout: '
            f'it has {"a" if has_unet else "no"} U-Net ({LDM_UNET_KEY}*) and '
            f'{"a" if has_vae else "no"} VAE ({"* or ".join(LDM_VAE_KEYS)}*) '
            f'(keys such as {keys}). LoRA, embedding, VAE-only and single diffusers '
            'component files are not full checkpoints. ' + WEIGHTS_HELP)
    signature = checkpoint_signature(state)
    if unet_signature(unet_cfg) == signature:
        arch, configs = 'unet_cfg/vae_cfg', (unet_cfg, vae_cfg)
    else:
        arch = recognise_arch(state)
        if arch is None:
            shipped = {name: unet_signature(UNet2DConditionModel.load_config(unet_json))
                       for name, (unet_json, _) in ARCHS.items()}
            raise ValueError(
                f'{path}: its U-Net (in_channels, first block width, cross-attention '
                f'width, added-conditions width) = {signature} matches no shipped '
                f'architecture {shipped} nor unet_cfg {unet_signature(unet_cfg)}. Set '
                'model.backbone.unet_cfg/vae_cfg to its diffusers configs. ' + WEIGHTS_HELP)
        configs = ARCHS[arch]
    print_log(f'Stable Diffusion weights: {path} (original layout) as {arch}',
              logger='current')
    models = []
    for model, cfg in zip((UNet2DConditionModel, AutoencoderKL), configs):
        with _config_file(cfg) as config:
            try:
                # no torch_dtype: weights take the fp32 of the empty model (and
                # diffusers' model.to(dtype) warning is avoided)
                loaded = model.from_single_file(state, config=config, local_files_only=True)
                missing = [name for name, p in loaded.named_parameters() if p.is_meta]
                if missing:  # diffusers < 0.31 leaves missing weights on the meta device
                    raise ValueError(f'{len(missing)} weights are missing, e.g. {missing[0]}')
                models.append(loaded)
            except (ValueError, KeyError, RuntimeError, SingleFileComponentError) as err:
                # a missing weight surfaces as "Cannot copy out of meta tensor"
                raise ValueError(
                    f'{path}: its {model.__name__} does not load into the {arch} '
                    f'architecture (the file lacks some of its weights or has other '
                    f'shapes): {err}') from err
    return tuple(models)


@contextmanager
def _config_file(cfg):
    """A config json path for ``from_single_file(config=...)``: ``cfg`` itself when
    it is a path, else ``cfg`` written to a temporary file."""
    if isinstance(cfg, str):
        yield cfg
        return
    with tempfile.TemporaryDirectory() as tmp:
        path = osp.join(tmp, 'config.json')
        with open(path, 'w') as f:
            json.dump(dict(cfg), f)
        yield path


def _check_supported(unet: UNet2DConditionModel, vae: AutoencoderKL, path: str) -> None:
    """GenLoc feeds VAE latents and keypoint conditions only (SDXL's added
    conditions are built by the backbone): reject U-Nets that need more."""
    cfg = unet.config
    extra = {key: cfg[key]
             for key in ('class_embed_type', 'num_class_embeds', 'encoder_hid_dim_type')
             if cfg.get(key) is not None}
    if cfg.addition_embed_type not in (None, 'text_time'):
        extra['addition_embed_type'] = cfg.addition_embed_type
    if extra or cfg.in_channels != vae.config.latent_channels:
        raise ValueError(
            f'{path}: GenLoc supports text-to-image SD U-Nets (SD-1.x, SD-2.x, SDXL) whose '
            f'input is the VAE latent ({vae.config.latent_channels} channels); this one '
            f'has in_channels={cfg.in_channels} and {extra or "no other inputs"} '
            '(inpainting, upscaler, unCLIP-style models are not supported).')
