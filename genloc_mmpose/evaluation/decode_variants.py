"""Held-out AP of one checkpoint under several decodings and layer fusions
(``tools/misc/decode_variants.py``, docs/experiments.md).

The model runs once over the config's test split (crops and their mirrors, as the
flip test does) and its per-layer CKHE maps are kept; each variant then fuses,
flip-averages, decodes and scores them with the config's test evaluator: the same
checkpoint, only the decoding differs.

Variants:
    argmax, dark<k>            GenLocHeatmap(refine=None / 'dark', blur_kernel_size=k),
                               the head's fusion (mean of the bilinear-resized layers)
    bicubic-dark<k>            layers resized bicubic instead of bilinear
    geometric-dark<k>          layers fused by their geometric mean
    finest-dark<k>             only the layers at the finest resolution
    layer<i>-dark<k>           CKHE layer i alone
"""
import contextlib
import io
import re
from typing import Dict, List, Sequence, Tuple

import torch
import torch.nn.functional as F

from ..models.estimator import maps_with_mirrors

DEFAULT_VARIANTS = ('argmax', 'dark3', 'dark5', 'dark7', 'dark11', 'bicubic-dark5',
                    'geometric-dark5', 'finest-dark5')
VARIANT = re.compile(r'^(?:(bicubic|geometric|finest|layer\d+)-)?(argmax|dark\d+)$')
METRICS = ('AP', 'AP .5', 'AP .75', 'AR')


def parse_variant(name: str, num_layers: int) -> dict:
    """'bicubic-dark5' -> dict(fusion='bicubic', layers=None, codec=dict(refine='dark',
    blur_kernel_size=5))."""
    match = VARIANT.match(name)
    if not match:
        raise ValueError(f'unknown decoding variant {name!r}: one of argmax, dark<k>, '
                         '{bicubic,geometric,finest,layer<i>}-{argmax,dark<k>}')
    fusion, decode = match.groups()
    layers = None
    if fusion and fusion.startswith('layer'):
        index = int(fusion[5:])
        if index >= num_layers:
            raise ValueError(f'{name}: the model has {num_layers} CKHE layers')
        fusion, layers = 'mean', [index]
    codec = dict(refine=None) if decode == 'argmax' else dict(
        refine='dark', blur_kernel_size=int(decode[4:]))
    return dict(fusion=fusion or 'mean', layers=layers, codec=codec)


def fuse(head, feats: Tuple[torch.Tensor, ...], fusion: str) -> torch.Tensor:
    """Per-layer maps (B, K, h_i, w_i) -> (B, K, H, W) distributions, by ``fusion``
    (``'mean'``: the head's own)."""
    if fusion == 'mean':
        return head(feats)
    if fusion == 'finest':
        size = max(f.shape[-2] * f.shape[-1] for f in feats)
        return head(tuple(f for f in feats if f.shape[-2] * f.shape[-1] == size))
    width, height = head.heatmap_size
    resized = [F.interpolate(f.float(), size=(height, width),
                             mode='bicubic' if fusion == 'bicubic' else 'bilinear',
                             align_corners=False).clamp_min(0) for f in feats]
    resized = [r / r.sum((-2, -1), keepdim=True).clamp_min(1e-12) for r in resized]
    if fusion == 'bicubic':
        return sum(resized) / len(resized)
    log = sum(r.clamp_min(1e-12).log() for r in resized) / len(resized)  # geometric
    return log.flatten(2).softmax(-1).view_as(log)


@torch.no_grad()
def layer_maps(model) -> List[tuple]:
    """The per-layer maps of the test split: per batch (maps, maps of the mirrored
    crops, data samples)."""
    from mmengine.runner import Runner
    cache = []
    for batch in Runner.build_dataloader(model.cfg.test_dataloader):
        data = model.data_preprocessor(batch, False)
        maps, mirrored = maps_with_mirrors(model.extract_feat, data['inputs'])
        cache.append((list(maps), list(mirrored), data['data_samples']))
    return cache


def evaluate(model, cache: List[tuple], name: str, flip: bool = True) -> Dict[str, float]:
    """The test evaluator's metrics of ``model``'s cached maps decoded by variant
    ``name``."""
    from mmengine.evaluator import Evaluator
    from mmpose.models.utils.tta import flip_heatmaps
    from mmpose.registry import METRICS as METRIC_REGISTRY
    from mmpose.registry import MODELS
    variant = parse_variant(name, len(cache[0][0]))
    cfg = model.cfg
    head = MODELS.build(dict(type='CorrelationMapHead',
                             decoder=dict(cfg.model.head.decoder, **variant['codec'])))
    with contextlib.redirect_stdout(io.StringIO()):  # pycocotools' messages
        evaluator = Evaluator(METRIC_REGISTRY.build(cfg.test_evaluator))
    evaluator.dataset_meta = model.dataset_meta
    flip_indices = cache[0][2][0].metainfo['flip_indices']
    count = 0
    for feats, feats_flip, samples in cache:
        if variant['layers'] is not None:
            feats = [feats[i] for i in variant['layers']]
            feats_flip = [feats_flip[i] for i in variant['layers']]
        heatmaps = fuse(head, tuple(feats), variant['fusion'])
        if flip:
            heatmaps = 0.5 * (heatmaps + flip_heatmaps(
                fuse(head, tuple(feats_flip), variant['fusion']),
                flip_indices=flip_indices, shift_heatmap=False))
        samples = model.add_pred_to_datasample(
            head.decode(heatmaps), None, [s.clone() for s in samples])
        evaluator.process(data_samples=samples)
        count += len(samples)
    with contextlib.redirect_stdout(io.StringIO()):
        metrics = evaluator.evaluate(count)
    return {k: float(metrics[f'coco/{k}']) for k in METRICS}


def table(rows: Dict[str, Dict[str, float]]) -> str:
    """Markdown: a row per variant."""
    lines = ['| decoding | AP | AP50 | AP75 | AR |', '|---|---|---|---|---|']
    lines += [f'| {name} | ' + ' | '.join(f'{m[k]:.3f}' for k in METRICS) + ' |'
              for name, m in rows.items()]
    return '\n'.join(lines)


def run(config: str, checkpoint: str, variants: Sequence[str] = DEFAULT_VARIANTS,
        flip: bool = True) -> Dict[str, Dict[str, float]]:
    """Each variant's metrics for ``checkpoint`` on ``config``'s test split (CPU)."""
    import logging

    from mmengine.logging import MMLogger
    from mmpose.apis import init_model
    model = init_model(config, checkpoint, device='cpu')
    MMLogger.get_current_instance().setLevel(logging.ERROR)
    cache = layer_maps(model)
    for name in variants:  # bad names fail before any evaluation
        parse_variant(name, len(cache[0][0]))
    rows = {}
    for name in variants:
        rows[name] = evaluate(model, cache, name, flip)
        print(f"{name}: AP {rows[name]['AP']:.3f}", flush=True)
    return rows
