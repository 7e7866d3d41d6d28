"""Held-out AP of one checkpoint under several decodings and layer fusions.

Runs the model once over the config's test split (crops and their mirrors, as the
flip test does), keeps the per-layer CKHE maps, then for each variant fuses,
flip-averages, decodes and scores them with the config's test evaluator
(CocoMetric): the same checkpoint, only the decoding differs.

Variants (``--variants``):
    argmax, dark<k>            GenLocHeatmap(refine=None / 'dark', blur_kernel_size=k),
                               mean of the bilinear-resized layers (the head's fusion)
    bicubic-dark<k>            layers resized bicubic instead of bilinear
    geometric-dark<k>          layers fused by their geometric mean
    finest-dark<k>             only the layers at the finest resolution
    layer<i>-dark<k>           CKHE layer i alone

Usage:
    python tools/misc/decode_variants.py CONFIG CHECKPOINT [--variants ...]
        [--no-flip] [--out results.md]
"""
import argparse
import contextlib
import io
import logging
import os.path as osp
import re
import sys
import warnings

warnings.filterwarnings('ignore', 'pkg_resources is deprecated', UserWarning)
sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from mmengine.evaluator import Evaluator  # noqa: E402
from mmengine.logging import MMLogger  # noqa: E402
from mmengine.runner import Runner  # noqa: E402

import genloc_mmpose  # noqa: F401,E402

DEFAULT_VARIANTS = ['argmax', 'dark3', 'dark5', 'dark7', 'dark11',
                    'bicubic-dark5', 'geometric-dark5', 'finest-dark5']
VARIANT = re.compile(r'^(?:(bicubic|geometric|finest|layer\d+)-)?(argmax|dark\d+)$')


def parse_variant(name: str, num_layers: int) -> dict:
    """'bicubic-dark5' -> dict(fusion='bicubic', layers=None, refine='dark', k=5)."""
    match = VARIANT.match(name)
    if not match:
        raise SystemExit(f'error: unknown variant {name!r}; see --help')
    fusion, decode = match.groups()
    layers = None
    if fusion and fusion.startswith('layer'):
        index = int(fusion[5:])
        if index >= num_layers:
            raise SystemExit(f'error: {name}: the model has {num_layers} CKHE layers')
        fusion, layers = 'mean', [index]
    codec = dict(refine=None) if decode == 'argmax' else dict(
        refine='dark', blur_kernel_size=int(decode[4:]))
    return dict(fusion=fusion or 'mean', layers=layers, codec=codec)


def fuse(head, feats, fusion: str) -> torch.Tensor:
    """Per-layer maps -> (B, K, H, W) distributions, by ``fusion``."""
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


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config')
    parser.add_argument('checkpoint')
    parser.add_argument('--variants', nargs='+', default=DEFAULT_VARIANTS)
    parser.add_argument('--no-flip', action='store_true', help='no flip test')
    parser.add_argument('--out', help='also write the markdown table here')
    args = parser.parse_args()

    from mmpose.apis import init_model
    from mmpose.models.utils.tta import flip_heatmaps
    from mmpose.registry import METRICS, MODELS
    model = init_model(args.config, args.checkpoint, device='cpu')
    cfg = model.cfg
    MMLogger.get_current_instance().setLevel(logging.ERROR)
    loader = Runner.build_dataloader(cfg.test_dataloader)
    cache = []
    with torch.no_grad():
        for batch in loader:
            data = model.data_preprocessor(batch, False)
            inputs = data['inputs']
            both = model.extract_feat(torch.cat([inputs, inputs.flip(-1)]))
            size = len(inputs)
            cache.append(([f[:size] for f in both], [f[size:] for f in both],
                          data['data_samples']))
    num_layers = len(cache[0][0])
    flip_indices = cache[0][2][0].metainfo['flip_indices']

    rows = []
    for name in args.variants:
        variant = parse_variant(name, num_layers)
        decoder = dict(cfg.model.head.decoder, **variant['codec'])
        head = MODELS.build(dict(type='CorrelationMapHead', decoder=decoder))
        with contextlib.redirect_stdout(io.StringIO()):  # pycocotools' messages
            evaluator = Evaluator(METRICS.build(cfg.test_evaluator))
        evaluator.dataset_meta = model.dataset_meta
        count = 0
        for feats, feats_flip, samples in cache:
            if variant['layers'] is not None:
                feats = [feats[i] for i in variant['layers']]
                feats_flip = [feats_flip[i] for i in variant['layers']]
            heatmaps = fuse(head, tuple(feats), variant['fusion'])
            if not args.no_flip:
                heatmaps = 0.5 * (heatmaps + flip_heatmaps(
                    fuse(head, tuple(feats_flip), variant['fusion']),
                    flip_indices=flip_indices, shift_heatmap=False))
            samples = model.add_pred_to_datasample(
                head.decode(heatmaps), None, [s.clone() for s in samples])
            evaluator.process(data_samples=samples)
            count += len(samples)
        with contextlib.redirect_stdout(io.StringIO()):
            metrics = evaluator.evaluate(count)
        rows.append((name, *(metrics[f'coco/{k}'] for k in ('AP', 'AP .5', 'AP .75', 'AR'))))
        print(f'{name}: AP {rows[-1][1]:.3f}', flush=True)

    table = ['| decoding | AP | AP50 | AP75 | AR |', '|---|---|---|---|---|']
    table += [f'| {n} | {a:.3f} | {a50:.3f} | {a75:.3f} | {ar:.3f} |'
              for n, a, a50, a75, ar in rows]
    print('\n'.join(table))
    if args.out:
        with open(args.out, 'w') as f:
            f.write('\n'.join(table) + '\n')


if __name__ == '__main__':
    main()
