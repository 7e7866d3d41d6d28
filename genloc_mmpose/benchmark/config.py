"""The config as benchmarked: the command line's overrides (input size, dtype,
with_cp, flip, random weights), checked before the model is built."""
import copy
import os.path as osp

import torch

from ..models.backbone import SD15_UNET, SD15_VAE, _arch_config
from . import BenchmarkError


def resolve_input_size(cfg, input_size):
    """Set the codec input/heatmap size everywhere; return (input, heatmap) (W, H)."""
    decoder = cfg.model.head.decoder
    old_in = tuple(int(v) for v in decoder['input_size'])
    old_hm = tuple(int(v) for v in decoder['heatmap_size'])
    if input_size is None:
        return old_in, old_hm
    new_in = tuple(int(v) for v in input_size)
    if min(new_in) <= 0:
        raise BenchmarkError(f'--input-size must be positive, got {new_in}')
    strides = [i / h for i, h in zip(old_in, old_hm)]
    new_hm = tuple(round(i / s) for i, s in zip(new_in, strides))
    if any(abs(h * s - i) > 1e-6 for h, s, i in zip(new_hm, strides, new_in)):
        raise BenchmarkError(
            f'--input-size {new_in[0]} {new_in[1]} (W H) is not a multiple of the '
            f"config's input/heatmap stride {strides} (codec input_size {old_in}, "
            f'heatmap_size {old_hm}).')

    def update_codec(codec):
        if codec.get('type') == decoder.get('type') and tuple(
                codec.get('input_size', ())) == old_in:
            codec['input_size'] = new_in
            codec['heatmap_size'] = new_hm

    update_codec(decoder)
    if isinstance(cfg.get('codec'), dict):
        update_codec(cfg.codec)
    for key in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        pipeline = (cfg.get(key) or {}).get('dataset', {}).get('pipeline', [])
        for transform in pipeline:
            if transform.get('type') in ('TopdownAffine', 'GenLocTopdownAffine'):
                transform['input_size'] = new_in
            encoder = transform.get('encoder')
            if isinstance(encoder, dict):
                update_codec(encoder)
            elif isinstance(encoder, (list, tuple)):
                for enc in encoder:
                    update_codec(enc)
    return new_in, new_hm


def size_divisor(backbone_cfg):
    """2**(U-Net down blocks - 1) * 2**(VAE blocks - 1), read from the config (or
    the weights folder), before the model is built; None if unknown."""
    pretrained = backbone_cfg.get('pretrained')
    try:
        if pretrained is not None:
            unet = _arch_config(osp.join(pretrained, 'unet', 'config.json'))
            vae = _arch_config(osp.join(pretrained, 'vae', 'config.json'))
        else:
            unet = _arch_config(backbone_cfg.get('unet_cfg', SD15_UNET))
            vae = _arch_config(backbone_cfg.get('vae_cfg', SD15_VAE))
        return (2**(len(unet['down_block_types']) - 1) *
                2**(len(vae['block_out_channels']) - 1))
    except (OSError, KeyError, TypeError, ValueError):
        return None


def check_divisor(input_size, divisor):
    """BenchmarkError, with a size that fits, if (W, H) is not a multiple of the
    model's size divisor (None: unknown, no check)."""
    width, height = input_size
    if divisor and (width % divisor or height % divisor):
        good = tuple(max(divisor, round(v / divisor) * divisor) for v in input_size)
        raise BenchmarkError(
            f'--input-size {width} {height} (W H) is not a multiple of {divisor}, the '
            'size divisor of this model (VAE downsampling x U-Net downsampling); '
            f'use e.g. --input-size {good[0]} {good[1]}.')


def default_dtype(cfg):
    """'bf16' if the config trains with ``AmpOptimWrapper(dtype='bfloat16')``, else
    'fp32'."""
    optim = cfg.get('optim_wrapper') or {}
    if optim.get('type') == 'AmpOptimWrapper' and str(
            optim.get('dtype')) in ('bfloat16', 'torch.bfloat16'):
        return 'bf16'
    return 'fp32'


def optim_wrapper_cfg(cfg, dtype, device):
    """The config's ``optim_wrapper`` for one step per batch in ``dtype``; returns
    (its config, whether the step needs ``torch.autocast`` on the CPU)."""
    optim = copy.deepcopy(cfg.optim_wrapper)
    optim = optim.to_dict() if hasattr(optim, 'to_dict') else dict(optim)
    optim['accumulative_counts'] = 1
    cpu_autocast = False
    if dtype == 'bf16' and device.type == 'cuda':
        optim['type'] = 'AmpOptimWrapper'
        optim['dtype'] = 'bfloat16'
    else:
        # AmpOptimWrapper refuses the CPU: plain OptimWrapper (+ torch.autocast).
        optim['type'] = 'OptimWrapper'
        optim.pop('dtype', None)
        optim.pop('loss_scale', None)
        cpu_autocast = dtype == 'bf16'
    return optim, cpu_autocast


def _apply_model_args(cfg, args):
    """--random-weights, --with-cp and --flip into ``cfg.model``."""
    backbone = cfg.model.backbone
    if args.random_weights:
        backbone.pretrained = None
    elif args.modes and backbone.get('pretrained') is not None and not osp.exists(
            backbone.pretrained):
        raise BenchmarkError(
            f'Stable Diffusion weights {backbone.pretrained!r} not found: pass '
            '--random-weights to benchmark the same architecture with random weights '
            '(same cost), or set model.backbone.pretrained.')
    if args.with_cp is not None:
        backbone.with_cp = args.with_cp
    cfg.model.setdefault('test_cfg', {})  # stored as a ConfigDict: write into that one
    if args.flip is not None:
        cfg.model.test_cfg['flip_test'] = args.flip


def configure(cfg, args, device):
    """Apply the command line ``args`` to ``cfg`` (in place) and check it; return
    the settings of the run (the report's ``settings``)."""
    _apply_model_args(cfg, args)
    backbone = cfg.model.backbone
    input_size, heatmap_size = resolve_input_size(cfg, args.input_size)
    check_divisor(input_size, size_divisor(backbone))

    settings = dict(
        config=args.config, cfg_options=args.cfg_options or {},
        batch_size=args.batch_size or int(cfg.train_dataloader.batch_size),
        input_size=list(input_size), heatmap_size=list(heatmap_size),
        dtype=args.dtype or default_dtype(cfg),
        with_cp=bool(backbone.get('with_cp', False)), compile=bool(args.compile),
        flip=bool(cfg.model.test_cfg.get('flip_test', False)), iters=args.iters,
        warmup=args.warmup, modes=list(args.modes), device=str(device),
        random_weights=bool(args.random_weights or backbone.get('pretrained') is None),
        pretrained=backbone.get('pretrained'), loader=bool(args.loader),
        workers=(args.workers if args.workers is not None else int(
            cfg.train_dataloader.get('num_workers', 0))),
        threads=torch.get_num_threads(), seed=args.seed)
    backbone.compile = bool(args.compile)
    # the precision of training and evaluation alike (GenLocBackbone autocasts)
    backbone.compute_dtype = 'bfloat16' if settings['dtype'] == 'bf16' else None
    if settings['batch_size'] < 1:
        raise BenchmarkError('--batch-size must be >= 1')
    if settings['dtype'] == 'bf16' and device.type == 'cuda' and not (
            torch.cuda.is_bf16_supported()):
        raise BenchmarkError('this GPU does not support bfloat16')
    return settings
