"""Evidence that the miniature SD is a prior, before any GenLoc training: the library
behind tools/misc/mini_sd_prior.py.

1. :func:`denoising_losses`: the DDPM epsilon-prediction error on held-out images
   (the world's ``'test'`` split) at fixed timesteps and noise, for the trained U-Net
   with the image's caption, with the empty caption, and for a random U-Net of the
   same architecture: the text must lower the error, and the prior must beat
   random weights.
2. :func:`name_pck`: where conditions made from keypoint names point with no
   training at all: ``GenLocBackbone(condition_init='text')`` on held-out crops, the
   argmax of each keypoint's fused CKHE map against its label (PCK), beside random
   conditions on the same model.
"""
import os.path as osp
from typing import Dict, Optional, Sequence

import numpy as np
import torch

from ..synthetic import creatures
from .train import SD_SCHEDULE

TIMESTEPS = (50, 200, 500, 800)


def _test_items(num: int, seed: int = 0):
    return [creatures.make_creature(seed, 'test', i) for i in range(num)]


@torch.no_grad()
def denoising_losses(folder: str, num: int = 256, timesteps: Sequence[int] = TIMESTEPS,
                     seed: int = 0) -> Dict[str, Dict[int, float]]:
    """Mean epsilon-MSE per timestep on ``num`` held-out images: keys ``'caption'``,
    ``'empty'`` (trained U-Net) and ``'random'`` (random U-Net, with the caption)."""
    from diffusers import DDPMScheduler, UNet2DConditionModel

    from .train import load_pipeline
    pipe = load_pipeline(folder)
    items = _test_items(num, seed)
    images = torch.from_numpy(np.stack([it['image'] for it in items])).permute(
        0, 3, 1, 2).float() / 127.5 - 1
    gen = torch.Generator().manual_seed(seed)
    latents = pipe.vae.encode(images).latent_dist.mean * pipe.vae.config.scaling_factor
    tok = pipe.tokenizer

    def encode(texts):
        ids = tok(texts, padding='max_length', max_length=tok.model_max_length,
                  truncation=True, return_tensors='pt').input_ids
        return pipe.text_encoder(ids).last_hidden_state

    captions, empty = encode([it['caption'] for it in items]), encode([''] * num)
    torch.manual_seed(seed)
    random_unet = UNet2DConditionModel.from_config(pipe.unet.config).eval()
    sched = DDPMScheduler(**SD_SCHEDULE)
    out = {key: {} for key in ('caption', 'empty', 'random')}
    for t in timesteps:
        noise = torch.randn(latents.shape, generator=gen)
        steps = torch.full((num, ), t)
        noisy = sched.add_noise(latents, noise, steps)
        for key, unet, states in (('caption', pipe.unet, captions),
                                  ('empty', pipe.unet, empty),
                                  ('random', random_unet, captions)):
            errors = [((unet(noisy[i:i + 64], steps[i:i + 64], states[i:i + 64]).sample
                        - noise[i:i + 64])**2).mean((1, 2, 3)) for i in range(0, num, 64)]
            out[key][t] = float(torch.cat(errors).mean())
    return out


def box_crops(items, input_size: int = 64):
    """Creatures cropped to their box as MMPose's top-down pipeline crops them
    (CocoDataset's box clipped to the image, GetBBoxCenterScale's centre and longer
    side x 1.25, TopdownAffine's bilinear warp): crops (N, S, S, 3) uint8 and
    keypoints in crop pixels (N, K, 3). The box's longer side is S / 1.25 in the crop."""
    import cv2
    crops, labels = [], []
    for item in items:
        height, width = item['image'].shape[:2]
        x, y, w, h = item['bbox']
        x1, y1 = np.clip(x, 0, width - 1), np.clip(y, 0, height - 1)
        x2, y2 = np.clip(x + w, 0, width - 1), np.clip(y + h, 0, height - 1)
        w, h = x2 - x1, y2 - y1
        scale = input_size / (max(w, h) * 1.25)
        cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
        affine = np.array([[scale, 0, input_size / 2 - cx * scale],
                           [0, scale, input_size / 2 - cy * scale]])
        crops.append(cv2.warpAffine(item['image'], affine, (input_size, ) * 2,
                                    flags=cv2.INTER_LINEAR))
        kpts = item['keypoints'].copy()
        kpts[:, :2] = kpts[:, :2] * scale + affine[:, 2]
        labels.append(kpts)
    return np.stack(crops), np.stack(labels)


@torch.no_grad()
def name_pck(folder: str, num: int = 200, seed: int = 0, threshold: float = 0.1,
             condition_init: str = 'text', input_size: int = 64) -> Dict[str, float]:
    """PCK (a hit: within ``threshold`` x the longer box side of the label) of the
    argmax of each keypoint's fused CKHE map, no training, on ``num`` held-out
    creatures cropped to their box; per keypoint name and ``'mean'``."""
    from ..models import CorrelationMapHead, GenLocBackbone
    torch.manual_seed(seed)
    backbone = GenLocBackbone(
        num_keypoints=len(creatures.KEYPOINTS), pretrained=folder, lora=None,
        condition_init=condition_init, keypoint_names=list(creatures.KEYPOINTS),
        object_name=creatures.CATEGORY).eval()
    head = CorrelationMapHead(decoder=dict(
        type='GenLocHeatmap', input_size=(input_size, ) * 2,
        heatmap_size=(input_size // 2, ) * 2, sigma=1.5, refine=None))
    crops, labels = box_crops(_test_items(num, seed), input_size)
    x = torch.from_numpy(crops).permute(0, 3, 1, 2).float() / 127.5 - 1
    preds = np.concatenate([head.decoder.batch_decode(head(backbone(x[i:i + 32])))[0]
                            for i in range(0, num, 32)])[:, 0]  # (N, K, 2)
    valid = labels[..., 2] > 0
    hits = np.linalg.norm(preds - labels[..., :2], axis=-1) <= threshold * input_size / 1.25
    pck = {name: float((hits[:, k] & valid[:, k]).sum() / max(valid[:, k].sum(), 1))
           for k, name in enumerate(creatures.KEYPOINTS)}
    pck['mean'] = float((hits & valid).sum() / valid.sum())
    return pck


def report(folder: str, num: int = 256, seed: int = 0,
           out_json: Optional[str] = None) -> str:
    """Both measurements as markdown (and json)."""
    import json
    losses = denoising_losses(folder, num, seed=seed)
    lines = ['| held-out denoising error (eps-MSE) | ' + ' | '.join(
        f't = {t}' for t in TIMESTEPS) + ' | mean |', '|---' * (len(TIMESTEPS) + 2) + '|']
    names = dict(caption='trained U-Net, with the caption',
                 empty='trained U-Net, empty caption', random='random U-Net, with the caption')
    for key, row in losses.items():
        values = [row[t] for t in TIMESTEPS]
        lines.append(f'| {names[key]} | ' + ' | '.join(f'{v:.4f}' for v in values)
                     + f' | {np.mean(values):.4f} |')
    pcks = {init: name_pck(folder, min(num, 200), seed, condition_init=init)
            for init in ('text', 'random')}
    lines += ['', '| keypoint | PCK@0.1, conditions from the name | PCK@0.1, random '
              'conditions |', '|---|---|---|']
    for name in list(creatures.KEYPOINTS) + ['mean']:
        lines.append(f'| {name} | {pcks["text"][name]:.3f} | {pcks["random"][name]:.3f} |')
    text = '\n'.join(lines)
    if out_json:
        with open(out_json, 'w') as f:
            json.dump(dict(denoising=losses, pck=pcks), f, indent=1)
    return text


def training_curve(work_dir: str, out_file: str, offset: int = 0) -> str:
    """The U-Net and VAE losses of ``tools/misc/train_mini_sd.py``'s logs as a PNG
    (a panel per stage the logs have); ``offset``: U-Net steps trained before this
    work dir (a run continued with ``init=``), added to its step numbers."""
    import glob
    import re

    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    text = ''.join(open(p).read() for p in sorted(glob.glob(osp.join(work_dir, 'train_*.log'))))
    vae = {int(s): float(v) for s, v in re.findall(r'vae step (\d+)/\d+: l1 ([\d.]+)', text)}
    unet = {int(s) + offset: float(v)
            for s, v in re.findall(r'unet step (\d+)/\d+: loss ([\d.]+)', text)}
    panels = [(data, title) for data, title in (
        (vae, 'VAE: L1 reconstruction'),
        (unet, 'U-Net + text encoder: eps loss (min-SNR)')) if data]
    if not panels:
        raise ValueError(f'No training log lines in {work_dir}/train_*.log.')
    fig, axes = plt.subplots(1, len(panels), figsize=(4.5 * len(panels), 3.2), squeeze=False)
    for ax, (data, title) in zip(axes[0], panels):
        steps = sorted(data)
        ax.plot(steps, [data[s] for s in steps])
        ax.set_title(title, fontsize=10)
        ax.set_xlabel('step' + (f' (continued from step {offset})'
                                 if offset and data is unet else ''))
        ax.set_yscale('log')
        ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(out_file, dpi=110)
    return out_file
