"""GenLoc backbone: frozen SD VAE encoder + frozen SD U-Net with CKHE, paper §3.1-3.2."""
import functools
import json
import os.path as osp
from typing import Optional, Sequence, Tuple, Union

import torch
from mmengine.model import BaseModule
from mmpose.registry import MODELS
from torch import Tensor, nn

from .ckhe import CKHEAttnProcessor
from ..resources import ARCH_DIR

SD15_UNET = osp.join(ARCH_DIR, 'sd15_unet.json')
SD15_VAE = osp.join(ARCH_DIR, 'sd15_vae.json')
SD15_SCHEDULER = osp.join(ARCH_DIR, 'sd15_scheduler.json')
COMPUTE_DTYPES = {None: None, 'float32': None, 'bfloat16': torch.bfloat16,
                  'float16': torch.float16, 'auto': None}
if hasattr(torch.compiler, 'is_compiling'):
    is_compiling = torch.compiler.is_compiling
else:  # torch < 2.3
    from torch._dynamo import is_compiling


@functools.lru_cache(maxsize=None)
def _cpu_bf16_flags() -> frozenset:
    """The bf16 instruction flags of this CPU in /proc/cpuinfo (x86: ``avx512_bf16``,
    ``amx_bf16``; Arm: ``bf16``); empty where there is no such file."""
    try:
        with open('/proc/cpuinfo') as f:
            for line in f:
                if line.startswith(('flags', 'Features')):
                    return frozenset(line.split(':', 1)[1].split()) & {
                        'avx512_bf16', 'amx_bf16', 'bf16'}
    except OSError:
        pass
    return frozenset()


def native_bf16(device: torch.device) -> bool:
    """Whether ``device`` computes bf16 in hardware: a CUDA GPU with bf16 (Ampere and
    later), a CPU with AVX512-BF16, AMX or Arm's BF16. Elsewhere bf16 is emulated: on
    an AVX2 CPU a 3x3 conv in bf16 was ~450x slower than in fp32 (issue #27)."""
    if device.type == 'cuda':
        return torch.cuda.is_bf16_supported()
    return device.type == 'cpu' and bool(_cpu_bf16_flags())


def _arch_config(cfg: Union[dict, str]) -> dict:
    """A diffusers config given as a dict, as the path of a config json, or as the
    name of one shipped in ``genloc_mmpose/configs`` (e.g. ``'sd21_unet.json'``)."""
    if isinstance(cfg, str):
        if osp.basename(cfg) == cfg and osp.isfile(osp.join(ARCH_DIR, cfg)):
            cfg = osp.join(ARCH_DIR, cfg)
        with open(cfg) as f:
            return json.load(f)
    return dict(cfg)


@MODELS.register_module()
class GenLocBackbone(BaseModule):
    """Correlation maps between learnable keypoint conditions and image tokens.

    Image (B, 3, H, W) in [-1, 1] -> frozen VAE encoder -> latent (B, 4, H/8, W/8)
    scaled by ``scaling_factor`` -> frozen U-Net at timestep 0 with the K keypoint
    conditions (K, D) as ``encoder_hidden_states``. A :class:`CKHEAttnProcessor` on
    every cross-attention layer of the up-blocks records one map per keypoint.

    Args:
        num_keypoints (int): K, one learnable condition per keypoint type.
        pretrained (str, optional): Local Stable Diffusion weights (SD-1.x, SD-2.x /
            SD-Turbo, SDXL), loaded offline by :mod:`.sd_weights`: a diffusers folder
            holding ``unet/`` and ``vae/`` (full-precision or only fp16/bf16
            variant files), or one original-format ``.safetensors`` / ``.ckpt``
            file (architecture recognised from the file; ``unet_cfg``/``vae_cfg``
            when they match it). ``None`` builds random weights from
            ``unet_cfg``/``vae_cfg``. With ``pretrained`` set, ``state_dict`` holds
            only what is trained (conditions, LoRA): slim checkpoints.
        unet_cfg (dict | str): U-Net config (dict, json path, or the name of a json
            in ``genloc_mmpose/configs``) used when ``pretrained`` is None. Defaults
            to the SD-1.5 architecture.
        vae_cfg (dict | str): VAE config, likewise.
        lora (dict, optional): ``peft.LoraConfig`` kwargs for the U-Net. ``None``
            trains the conditions only.
        map_mode (str): ``'ckhe'`` (eq. 7) or ``'cross_attention'`` (eq. 6).
        noise_timestep (int, optional): If set, noise the latent at this DDPM
            timestep of SD-1.5's schedule (Table 1 ablation); default clean, t=0.
            In eval mode the noise is fixed (seed 0), so evaluation is repeatable.
        condition_init_std (float): Std of the normal init of the conditions
            (1.0 is the scale of CLIP text embeddings that SD was trained with).
        condition_init (str): ``'random'`` (normal, the paper) or ``'text'``: each
            condition from its keypoint's name with SD's own text encoder
            (:mod:`.text_conditions`), read once at build time and not kept.
        condition_text_contrast (float): For ``'text'``: the keypoints' differences
            from their mean condition scaled by this (:func:`.text_conditions.contrast`).
        condition_text_noise (float): For ``'text'``: add the random init
            (``condition_init_std``) times this.
        condition_text_shared (float): For ``'text'``: the keypoints' mean condition
            (what every prompt shares) scaled by this.
        keypoint_names (list[str] | dict, optional): For ``'text'``: the K names,
            or the dataset's MMPose metainfo, e.g.
            ``dict(from_file='configs/_base_/datasets/ap10k.py')``.
        object_name (str): For ``'text'``: the object in the prompt
            (``"the {object_name}'s left eye"``).
        text_encoder (str, optional): For ``'text'``: a diffusers folder holding
            ``text_encoder/`` and ``tokenizer/``; defaults to ``pretrained``.
        with_cp (bool): Memory mode: gradient checkpointing in the U-Net, and the
            VAE encodes one image at a time.
        freeze_unet (bool): Freeze the U-Net (the method). ``False`` trains all of
            it; only meant for random-weight U-Nets, which have no prior to keep.
        compile (bool): ``torch.compile`` the U-Net and the VAE encoder in place
            (state dict keys unchanged); the first iterations then take minutes.
        compute_dtype (str, optional): ``'bfloat16'`` or ``'float16'``: run the
            VAE encoder and the U-Net under ``torch.autocast`` in that precision,
            in training and evaluation alike (tools/test.py, validation,
            MMPoseInferencer), on any device, and store the frozen weights in it
            (half their memory, no re-cast every step). Conditions and LoRA stay
            fp32 master weights; the maps (CKHE logits in fp32), the head and the
            decode stay fp32. ``None``: fp32 throughout. ``'auto'`` (the SD
            configs): ``'bfloat16'`` on devices that compute it in hardware
            (:func:`native_bf16`), fp32 elsewhere, chosen at the first forward on
            a device, so one config trains and infers at full speed on a GPU and on
            a CPU.

    Returns (forward):
        tuple[Tensor]: one map (B, K, h_l, w_l) per CKHE layer, in U-Net order; in
        ``'ckhe'`` mode each sums to 1 over h_l * w_l.
    """

    def __init__(self,
                 num_keypoints: int,
                 pretrained: Optional[str] = None,
                 unet_cfg: Union[dict, str] = SD15_UNET,
                 vae_cfg: Union[dict, str] = SD15_VAE,
                 lora: Optional[dict] = dict(
                     r=16,
                     lora_alpha=16,
                     target_modules=['to_q', 'to_k', 'to_v', 'to_out.0']),
                 map_mode: str = 'ckhe',
                 noise_timestep: Optional[int] = None,
                 condition_init_std: float = 1.0,
                 condition_init: str = 'random',
                 condition_text_contrast: float = 1.0,
                 condition_text_noise: float = 0.0,
                 condition_text_shared: float = 1.0,
                 keypoint_names: Optional[Union[Sequence[str], dict]] = None,
                 object_name: str = 'object',
                 text_encoder: Optional[str] = None,
                 with_cp: bool = False,
                 freeze_unet: bool = True,
                 compile: bool = False,
                 compute_dtype: Optional[str] = None):
        super().__init__()
        # diffusers and transformers are imported when a model is built, not by
        # `import genloc_mmpose` (docs/benchmarks.md, import time)
        from diffusers.models.attention_processor import Attention

        from .text_conditions import init_conditions
        if not isinstance(num_keypoints, int) or isinstance(num_keypoints, bool) \
                or num_keypoints < 1:
            raise ValueError(f'GenLocBackbone num_keypoints must be a positive integer (one '
                             f'condition per keypoint type), got {num_keypoints!r}: set '
                             'model.backbone.num_keypoints to the number of keypoints in '
                             "the dataset's metainfo.")
        self.unet, self.vae = self._build_sd(pretrained, unet_cfg, vae_cfg)
        # Only the encoder is used: do not keep the decoder in memory.
        self.vae.decoder = None
        self.vae.post_quant_conv = None
        self.vae.requires_grad_(False)
        self.unet.requires_grad_(not freeze_unet)
        if lora is not None:
            from peft import LoraConfig
            self.unet.add_adapter(LoraConfig(**lora))
        if with_cp:
            self.unet.enable_gradient_checkpointing()
            self.vae.enable_slicing()  # encode one image at a time: lower peak memory

        self.conditions = nn.Parameter(init_conditions(
            condition_init, num_keypoints, self.unet.config.cross_attention_dim,
            condition_init_std, keypoint_names, object_name, text_encoder or pretrained,
            condition_text_contrast, condition_text_noise, condition_text_shared))

        self.ckhe_processors = []
        self.ckhe_strides = []  # latent pixels per map cell, one per CKHE layer
        num_up = len(self.unet.up_blocks)
        for name, module in self.unet.named_modules():
            if (name.startswith('up_blocks') and name.endswith('attn2')
                    and isinstance(module, Attention)):
                CKHEAttnProcessor.check_layer(module, name)
                processor = CKHEAttnProcessor(map_mode)
                module.set_processor(processor)
                self.ckhe_processors.append(processor)
                # up-block i runs at 1 / 2**(num_up - 1 - i) of the latent size
                self.ckhe_strides.append(2**(num_up - 1 - int(name.split('.')[1])))
                last_ckhe = name
        if not self.ckhe_processors:
            raise ValueError('The U-Net has no cross-attention layer in its up-blocks '
                             '(use CrossAttnUpBlock2D in up_block_types).')
        self._freeze_after(last_ckhe)
        if compute_dtype not in COMPUTE_DTYPES:
            raise ValueError(f'compute_dtype must be one of {tuple(COMPUTE_DTYPES)}, '
                             f'got {compute_dtype!r}')
        self.auto_dtype_device = None  # 'auto': the device type it was chosen for
        self._auto_dtype = compute_dtype == 'auto'
        self._set_compute_dtype(COMPUTE_DTYPES[compute_dtype])

        if compile:
            self.unet.compile()
            self.vae.encoder.compile()
        self.noise_timestep = noise_timestep
        if noise_timestep is not None:
            from diffusers import DDPMScheduler
            self.scheduler = DDPMScheduler.from_config(_arch_config(SD15_SCHEDULER))
        unet_down = 2**(len(self.unet.config.down_block_types) - 1)
        vae_down = 2**(len(self.vae.config.block_out_channels) - 1)
        self.size_divisor = unet_down * vae_down

        if pretrained is not None:
            # Slim checkpoints: frozen weights come from `pretrained`, not the ckpt.
            self._frozen_keys = {
                name for name, param in self.named_parameters()
                if not param.requires_grad
            }
            self._register_state_dict_hook(self._drop_frozen_keys)
            self.register_load_state_dict_post_hook(self._ignore_missing_frozen)

    def _set_compute_dtype(self, dtype: Optional[torch.dtype]) -> None:
        """Compute in ``dtype`` (None: fp32) and store the frozen weights in it."""
        self.compute_dtype = dtype
        for param in self.parameters():
            if not param.requires_grad:
                param.data = param.data.to(dtype or torch.float32)

    def _freeze_after(self, last_ckhe: str) -> None:
        """Freeze the LoRA layers that run after the last map is recorded (that
        layer's value/output projections, the rest of its transformer block and the
        U-Net's output layers): nothing they compute reaches a map, so they would
        never get a gradient (and DDP would fail on them)."""
        block = last_ckhe.rsplit('.', 1)[0]
        transformer = last_ckhe.split('.transformer_blocks.')[0]
        unused = (f'{last_ckhe}.to_v.', f'{last_ckhe}.to_out.', f'{block}.norm3.',
                  f'{block}.ff.', f'{transformer}.proj_out.', 'conv_norm_out.', 'conv_out.')
        for name, param in self.unet.named_parameters():
            if name.startswith(unused):
                param.requires_grad_(False)

    @staticmethod
    def _build_sd(pretrained, unet_cfg, vae_cfg):
        from diffusers import AutoencoderKL, UNet2DConditionModel

        from .sd_weights import load_sd_weights
        unet_cfg, vae_cfg = _arch_config(unet_cfg), _arch_config(vae_cfg)
        if pretrained is None:
            return (UNet2DConditionModel.from_config(unet_cfg),
                    AutoencoderKL.from_config(vae_cfg))
        return load_sd_weights(pretrained, unet_cfg, vae_cfg)

    def _drop_frozen_keys(self, module, state_dict, prefix, local_metadata):
        for name in self._frozen_keys:
            state_dict.pop(prefix + name, None)

    def _ignore_missing_frozen(self, module, incompatible_keys):
        missing = incompatible_keys.missing_keys
        missing[:] = [k for k in missing if not self._is_frozen_key(k)]

    def _is_frozen_key(self, key: str) -> bool:
        parts = key.split('.')
        return any('.'.join(parts[i:]) in self._frozen_keys for i in range(len(parts)))

    def init_weights(self):
        """Keep the frozen SD weights and the conditions as built (the Runner
        calls this before loading checkpoints)."""
        self._is_init = True

    def encode(self, x: Tensor) -> Tensor:
        """(B, 3, H, W) in [-1, 1] -> scaled latent (B, 4, H/8, W/8)."""
        with torch.no_grad():
            latent = self.vae.encode(x).latent_dist.mean
        return latent * self.vae.config.scaling_factor

    def _added_cond_kwargs(self, x: Tensor) -> Optional[dict]:
        """SDXL's added conditions for images x (B, 3, H, W); None for U-Nets
        without them (``addition_embed_type != 'text_time'``).

        GenLoc has no text: ``text_embeds`` is a zero pooled text embedding
        (B, P - 6 * A) (P = ``projection_class_embeddings_input_dim``, A =
        ``addition_time_embed_dim``; (B, 1280) for SDXL, whose pipelines pass zeros for
        an empty negative prompt), and ``time_ids`` (B, 6) present the crop as a whole
        image of its own size: original size (H, W), crop top-left (0, 0), target size
        (H, W).
        """
        config = self.unet.config
        if config.addition_embed_type != 'text_time':
            return None
        height, width = x.shape[-2:]
        text_dim = (config.projection_class_embeddings_input_dim -
                    6 * config.addition_time_embed_dim)
        # filled on the device: no host-to-device copy (and its sync) per step
        time_ids = x.new_zeros(x.shape[0], 6, dtype=torch.float32)
        time_ids[:, 0::4] = height  # ids 0 and 4: original and target height
        time_ids[:, 1::4] = width
        return dict(text_embeds=x.new_zeros(x.shape[0], text_dim), time_ids=time_ids)

    def forward(self, x: Tensor) -> Tuple[Tensor, ...]:
        """(B, 3, H, W) -> tuple of (B, K, h_l, w_l) correlation maps."""
        height, width = x.shape[-2:]
        if height % self.size_divisor or width % self.size_divisor:
            raise ValueError(
                f'GenLoc input size must be a multiple of {self.size_divisor} for '
                f'this U-Net/VAE; got {width}x{height} (W x H). Set the codec '
                f'input_size (and TopdownAffine input_size) accordingly, e.g. 256x256.')
        # (eager only: a data-dependent check cannot be traced or exported)
        tracing = torch.jit.is_tracing() or is_compiling()
        bad = None if tracing else ~torch.isfinite(x).flatten(1).all(1)
        if bad is not None and bad.any():
            raise ValueError(
                f'GenLocBackbone: input crop(s) {bad.nonzero()[:, 0].tolist()} of this batch '
                'hold NaN or Inf pixels, which would give NaN maps and meaningless '
                'keypoints. Check the images given (float arrays with NaN/Inf?) and the '
                'data preprocessor.')
        if self._auto_dtype and self.auto_dtype_device != x.device.type:
            self.auto_dtype_device = x.device.type
            self._set_compute_dtype(torch.bfloat16 if native_bf16(x.device) else None)
        autocast = torch.autocast(x.device.type, dtype=self.compute_dtype,
                                  enabled=self.compute_dtype is not None)
        with autocast:
            latent = self.encode(x)
        timestep = 0
        if self.noise_timestep is not None:
            timestep = self.noise_timestep
            # fresh noise in training; fixed noise in eval, so tests are repeatable
            generator = None if self.training else torch.Generator(
                latent.device).manual_seed(0)
            noise = torch.randn(latent.shape, generator=generator, device=latent.device,
                                dtype=latent.dtype)
            latent = self.scheduler.add_noise(
                latent, noise, torch.tensor([timestep], device=latent.device))
        conditions = self.conditions[None].expand(x.shape[0], -1, -1)
        with autocast:
            self.unet(latent, timestep, encoder_hidden_states=conditions,
                      added_cond_kwargs=self._added_cond_kwargs(x), return_dict=False)
        lat_h, lat_w = latent.shape[-2:]
        maps = []
        # integer shape arithmetic only: traceable (torch.jit.trace, FLOP counters)
        for processor, stride in zip(self.ckhe_processors, self.ckhe_strides):
            corr = processor.correlation_map
            processor.correlation_map = None
            maps.append(corr.unflatten(-1, (lat_h // stride, lat_w // stride)))
        return tuple(maps)
