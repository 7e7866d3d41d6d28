"""GenLoc on the miniature Stable Diffusion: data, runs and tables of
docs/experiments.md ("GenLoc on a miniature Stable Diffusion"); the library behind
tools/misc/mini_sd_experiments.py and the demo (tools/demo.py).

Every run trains the creature config (:data:`CONFIG`) from its labelled images (the
world's ``'val'`` split, never seen by the prior) and tests it on held-out images
(``'test'`` split), in this process, with MMEngine's ``Runner``; its result is cached
as ``WORK_DIR/<run>/result.json``.
"""
import json
import os
import os.path as osp
from typing import Dict, List, Optional, Sequence

import numpy as np
from mmengine.hooks import Hook

from ..engine.experiment import train_and_test
from ..fileio import atomic_write
from ..resources import MINI_SD, config_file
from ..synthetic import creatures

CONFIG = config_file('genloc', 'creatures',
                     'genloc_minisd-lora16_1xb16-1000it_creatures-64x64.py')
# MMPose's own top-down heatmap model (ResNet-18 SimpleBaseline) from scratch, same data
PEER_CONFIG = config_file('genloc', 'creatures', 'td-hm_res18_1xb16-1000it_creatures-64x64.py')
POOL, TEST = 1000, 300  # labelled pool ('val' split) and held-out test images
# learning curves are measured on the last VALIDATION images of the 'test' split,
# never on the first ones that the tables test on
VALIDATION = 100
MSE = dict(_delete_=True, type='KeypointMSELoss', use_target_weight=True)


def _no_prior(sd: str) -> dict:
    """The same architecture with random frozen weights."""
    return {'model.backbone.pretrained': None,
            'model.backbone.unet_cfg': osp.join(sd, 'unet', 'config.json'),
            'model.backbone.vae_cfg': osp.join(sd, 'vae', 'config.json')}


# variant -> (description, config overrides); ``{sd}`` is the miniature SD folder
VARIANTS = {
    'prior': ('mini-SD prior, LoRA r=16 + conditions (random init), CKHE + HEL', {}),
    'no-prior': ('same architecture, random frozen weights, same recipe', 'no-prior'),
    'text': ('mini-SD prior, conditions from the keypoint names',
             {'model.backbone.condition_init': 'text'}),
    'text-x4': ('mini-SD prior, conditions from the keypoint names, their differences x4',
                {'model.backbone.condition_init': 'text',
                 'model.backbone.condition_text_contrast': 4.0}),
    'text-noise': ('mini-SD prior, conditions from the keypoint names plus the random init',
                   {'model.backbone.condition_init': 'text',
                    'model.backbone.condition_text_noise': 1.0}),
    'text-shared': ("mini-SD prior, the random init plus the names' conditions, their "
                    "shared part cut to a random start's (x0.25)",
                    {'model.backbone.condition_init': 'text',
                     'model.backbone.condition_text_noise': 1.0,
                     'model.backbone.condition_text_shared': 0.25}),
    'condonly': ('mini-SD prior, conditions only (no LoRA)', {'model.backbone.lora': None}),
    't21': ('mini-SD prior, latent noised at t = 21', {'model.backbone.noise_timestep': 21}),
    't601': ('mini-SD prior, latent noised at t = 601',
             {'model.backbone.noise_timestep': 601}),
    'mse': ('mini-SD prior, CKHE maps + MSE loss', {'model.head.loss': MSE}),
    'crossattn-mse': ('mini-SD prior, cross-attention maps (eq. 6) + MSE loss',
                      {'model.backbone.map_mode': 'cross_attention',
                       'model.head.loss': MSE}),
    'peer': ("MMPose's ResNet-18 heatmap model from scratch, same data and iterations",
             'peer'),
}


def prepare_data(root: str, seed: int = 0) -> None:
    """The labelled pool and the test images under ``root`` (PNG + COCO json)."""
    for split, num, name in (('val', POOL, 'creatures_pool'), ('test', TEST, 'creatures_test')):
        if not osp.exists(osp.join(root, 'annotations', f'{name}.json')):
            creatures.write_coco(root, split, num, seed=seed, name=name)


def subset(root: str, source: str, name: str, labels: Optional[int] = None, seed: int = 0,
           families: Optional[Sequence[str]] = None) -> str:
    """``annotations/{name}.json``: the images of ``annotations/{source}.json`` of
    ``families`` (all if None), then ``labels`` of them drawn with ``seed`` (all if
    None); returns its path relative to ``root``."""
    rel = osp.join('annotations', f'{name}.json')
    path = osp.join(root, rel)
    if osp.exists(path):
        return rel
    with open(osp.join(root, 'annotations', f'{source}.json')) as f:
        coco = json.load(f)
    images = [im for im in coco['images'] if families is None or im['family'] in families]
    if labels is not None:
        rng = np.random.default_rng([seed, labels])
        images = [images[i] for i in sorted(rng.choice(len(images), labels, replace=False))]
    ids = {im['id'] for im in images}
    out = dict(coco, images=images,
               annotations=[a for a in coco['annotations'] if a['image_id'] in ids])
    atomic_write(path, json.dumps(out), 'w')
    return rel


def validation_ann(root: str) -> str:
    """``annotations/validation_last{VALIDATION}.json``: the last :data:`VALIDATION`
    images of the test split (learning curves, score thresholds: never the first ones,
    which the tables test on); its path relative to ``root``."""
    prepare_data(root)
    rel = subset(root, 'creatures_test', f'validation_last{VALIDATION}')
    _truncate(osp.join(root, rel), -VALIDATION)
    return rel


def run_name(variant: str, labels: Optional[int], seed: int, holdout: Optional[str] = None,
             iters: Optional[int] = None, test_images: Optional[int] = None) -> str:
    parts = [variant, f'{labels}shot' if labels else 'all']
    if holdout:
        parts.append(f'no-{holdout}')
    if iters is not None:
        parts.append(f'{iters}it')
    if test_images:
        parts.append(f'test{test_images}')
    return '_'.join(parts + [f'seed{seed}'])


def run(work_dir: str, variant: str, labels: Optional[int] = None, seed: int = 0,
        holdout: Optional[str] = None, iters: Optional[int] = None,
        data_root: Optional[str] = None, sd: str = MINI_SD, test_images: Optional[int] = None,
        cfg_options: Optional[dict] = None, curve_every: Optional[int] = None,
        schedule: str = 'cosine') -> dict:
    """Train (``iters`` iterations, the config's 1000 by default; 0: test only) and
    test one run; cached. ``labels``: labelled images drawn from the pool (all if
    None); ``holdout``: a family left out of training and tested alone (Table 6);
    ``test_images``: the first N test images only. ``curve_every``: also validate
    every N iterations on the last :data:`VALIDATION` test-split images (disjoint
    from the first ``test_images``), kept as ``result['curve']`` (iteration, PCK,
    EPE, the training loss); ``schedule``: ``'cosine'`` (the config's: warm-up, then
    cosine to 0 at ``iters``) or ``'constant'`` (warm-up, then the base rate: for
    curves, whose flattening then means convergence, not a decayed rate). A cached
    result counts only for the same prior (folder and weights), data and
    ``cfg_options``."""
    from mmengine.config import Config
    if schedule not in ('cosine', 'constant'):
        raise ValueError(f"schedule must be 'cosine' or 'constant', got {schedule!r}")
    if curve_every and holdout:
        raise ValueError('curve_every: learning curves validate on all families; '
                         f'not available with holdout={holdout!r}')
    if curve_every and (test_images or TEST) + VALIDATION > TEST:
        raise ValueError(f'curve_every: the {VALIDATION} validation images would overlap '
                         f'the {test_images or TEST} test images of the {TEST} held out; '
                         f'pass test_images <= {TEST - VALIDATION}.')
    name = run_name(variant, labels, seed, holdout, iters, test_images)
    if curve_every:
        name = name.replace(f'_seed{seed}', f'_{schedule}_curve{curve_every}_seed{seed}')
    out_dir = osp.join(work_dir, name)
    result_file = osp.join(out_dir, 'result.json')
    root = data_root or osp.join(work_dir, 'data')
    inputs = _inputs(sd, root, cfg_options)
    if osp.exists(result_file):
        with open(result_file) as f:
            cached = json.load(f)
        if cached.get('inputs') == inputs:
            return cached
    prepare_data(root)
    families = [f for f in creatures.FAMILIES if f != holdout] if holdout else None
    train_ann = subset(root, 'creatures_pool', f'pool_{labels or "all"}_seed{seed}'
                       + (f'_no-{holdout}' if holdout else ''), labels, seed, families)
    test_ann = _test_ann(root, holdout, test_images)
    val_ann = validation_ann(root) if curve_every else test_ann

    cfg = Config.fromfile(PEER_CONFIG if variant == 'peer' else CONFIG)
    overrides = VARIANTS[variant][1]
    if overrides == 'no-prior':
        overrides = _no_prior(sd)
    elif overrides == 'peer':
        overrides = {}
    else:
        overrides = {'model.backbone.pretrained': sd, **overrides}
    overrides.update(cfg_options or {})
    cfg.merge_from_dict(overrides)
    root = osp.join(os.path.abspath(root), '')
    cfg.train_dataloader.dataset.update(data_root=root, ann_file=train_ann)
    for key, ann in (('val', val_ann), ('test', test_ann)):
        cfg[f'{key}_dataloader'].dataset.update(data_root=root, ann_file=ann)
        cfg[f'{key}_evaluator'][0].ann_file = root + ann
    if iters is not None and iters > 0:
        _set_iters(cfg, iters, schedule)
    # validated every curve_every iterations, or never (tested once, below)
    cfg.train_cfg.val_interval = curve_every or 10**9
    if not curve_every:
        cfg.val_dataloader = cfg.val_evaluator = cfg.val_cfg = None
    cfg.randomness = dict(seed=seed)
    curve = _CurveHook()
    out = train_and_test(cfg, out_dir, name, train=iters != 0, hooks=[curve])
    result = dict(run=name, variant=variant, labels=labels, seed=seed, holdout=holdout,
                  test_images=test_images or TEST, inputs=inputs,
                  iters=cfg.train_cfg.max_iters if iters != 0 else 0, config=out['config'],
                  checkpoint=out['checkpoint'], train_s=out['train_s'],
                  test_s=out['test_s'], **out['test'],
                  **(dict(curve=curve.points, schedule=schedule) if curve_every else {}))
    with open(result_file, 'w') as f:
        json.dump(result, f, indent=1)
    return result


def _test_ann(root: str, family: Optional[str], test_images: Optional[int]) -> str:
    """The test creatures: the first ``test_images`` of the test split (all if None),
    of ``family`` only if given (then: all of that family in the split, when fewer)."""
    test_ann = subset(root, 'creatures_test', 'test' + (f'_{family}' if family else '')
                      + (f'_first{test_images}' if test_images else ''),
                      families=[family] if family else None)
    if test_images:
        _truncate(osp.join(root, test_ann), test_images)
    return test_ann


def score_on_family(work_dir: str, variant: str, family: str, labels: Optional[int] = None,
                   seed: int = 0, iters: Optional[int] = None, sd: str = MINI_SD,
                   data_root: Optional[str] = None,
                   test_images: Optional[int] = None) -> dict:
    """The all-family run ``run(work_dir, variant, labels, seed)`` (trained or read
    from the cache) tested on ``family``'s test creatures only, the images its
    Table-6 run ``holdout=family`` is tested on: the family *seen* in training, to
    set beside it unseen. Cached in the run's folder (``test_<family>.json``)."""
    from mmengine.config import Config
    trained = run(work_dir, variant, labels, seed, iters=iters, data_root=data_root, sd=sd,
                  test_images=test_images)
    result_file = osp.join(work_dir, trained['run'], f'test_{family}.json')
    if osp.exists(result_file):
        with open(result_file) as f:
            cached = json.load(f)
        if cached.get('inputs') == trained['inputs']:
            return cached
    root = osp.join(osp.abspath(data_root or osp.join(work_dir, 'data')), '')
    ann = _test_ann(root, family, test_images)
    cfg = Config.fromfile(trained['config'])
    cfg.test_dataloader.dataset.update(data_root=root, ann_file=ann)
    cfg.test_evaluator[0].ann_file = root + ann
    cfg.load_from = trained['checkpoint']
    cfg.val_dataloader = cfg.val_evaluator = cfg.val_cfg = None
    name = f"{trained['run']}_test_{family}"
    out = train_and_test(cfg, osp.join(work_dir, trained['run'], f'test_{family}'), name,
                         train=False)
    result = dict(trained, run=name, family=family, test_s=out['test_s'], **out['test'])
    with open(result_file, 'w') as f:
        json.dump(result, f, indent=1)
    return result


def _inputs(sd: str, root: str, cfg_options: Optional[dict]) -> dict:
    """What a cached result depends on beyond its name: the prior's folder and
    weights (size and time of each file), the data folder and the overrides."""
    weights = sorted(
        (osp.relpath(osp.join(d, f), sd), osp.getsize(osp.join(d, f)),
         int(osp.getmtime(osp.join(d, f))))
        for d, _, files in os.walk(sd) for f in files if f.endswith('.safetensors'))
    return json.loads(json.dumps(dict(sd=osp.realpath(sd), weights=weights,
                                      data_root=osp.realpath(root),
                                      cfg_options=cfg_options or {}), default=str))


class _CurveHook(Hook):
    """Keeps every validation's PCK and EPE with the iteration and the mean
    training loss since the previous one."""

    def __init__(self):
        self.points: List[dict] = []
        self._losses: List[float] = []

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
        self._losses.append(outputs['loss'].item())

    def after_val_epoch(self, runner, metrics=None):
        self.points.append(dict(iter=runner.iter, PCK=float(metrics['PCK']),
                                EPE=float(metrics['EPE']),
                                loss=float(np.mean(self._losses)) if self._losses else None))
        self._losses = []


def _truncate(path: str, num: int) -> None:
    """Keep the first ``num`` images (the last ``-num`` if negative)."""
    with open(path) as f:
        coco = json.load(f)
    keep = coco['images'][:num] if num > 0 else coco['images'][num:]
    ids = {im['id'] for im in keep}
    coco.update(images=keep,
                annotations=[a for a in coco['annotations'] if a['image_id'] in ids])
    atomic_write(path, json.dumps(coco), 'w')


def _set_iters(cfg, iters: int, schedule: str = 'cosine') -> None:
    warmup = max(1, min(20, iters // 2))
    cfg.train_cfg.max_iters = iters
    cfg.default_hooks.checkpoint.interval = iters
    cfg.param_scheduler = [
        dict(type='LinearLR', begin=0, end=warmup, start_factor=0.01, by_epoch=False)]
    if iters > warmup and schedule == 'cosine':
        cfg.param_scheduler.append(
            dict(type='CosineAnnealingLR', begin=warmup, end=iters, T_max=iters - warmup,
                 by_epoch=False))


# The tables of docs/experiments.md: name -> (title, runs as (variant, labels,
# holdout, iters) for every seed)
LABELS = (5, 10, 25, None)
FEWSHOT = (5, 10, 25)
NAMES = ('text', 'text-x4', 'text-noise', 'text-shared', 'prior')
TABLES = {
    'prior': ("Prior vs. random frozen weights vs. MMPose's from-scratch model",
              [(v, n, None, None) for n in LABELS for v in ('prior', 'no-prior', 'peer')]),
    'names': ('Conditions from keypoint names vs. random (with the prior)',
              [(v, None, None, 0) for v in NAMES]
              + [(v, n, None, None) for n in FEWSHOT for v in NAMES]),
    'table1': ('Table 1 in miniature (all labels)',
               [(v, None, None, None) for v in ('prior', 'condonly', 't21', 't601', 'mse',
                                                'crossattn-mse')]),
    'table6': ('Table 6 in miniature: train without one family, test on it',
               [(v, None, f, None) for f in ('hopper', 'grazer')
                for v in ('prior', 'no-prior', 'peer')]),
}


def summarise(results: List[dict], keys=('PCK', 'EPE')) -> List[dict]:
    """Mean and min-max over seeds, per (variant, labels, holdout, tested family, iters)."""
    groups: Dict[tuple, List[dict]] = {}
    for r in results:
        key = (r['variant'], r['labels'], r['holdout'], r.get('family'), r['iters'])
        groups.setdefault(key, []).append(r)
    rows = []
    for (variant, labels, holdout, family, iters), rs in groups.items():
        row = dict(variant=variant, labels=labels, holdout=holdout, family=family,
                   iters=iters,
                   seeds=sorted(r['seed'] for r in rs),
                   train_s=float(np.mean([r['train_s'] for r in rs])))
        for key in keys:
            values = [r[key] for r in rs]
            row[key] = (float(np.mean(values)), float(min(values)), float(max(values)))
        rows.append(row)
    return rows


def markdown(rows: List[dict]) -> str:
    """The rows of :func:`summarise` as a markdown table: PCK@0.1 and EPE (AP with
    AP-10K's sigmas asks 1-3 px of a 64-px creature: 0 everywhere, not shown)."""
    lines = ['| run | labelled images | test | iterations | seeds | PCK@0.1 mean (min-max) | '
             'EPE px mean (min-max) | train s |',
             '|---|---|---|---|---|---|---|---|']
    for r in rows:
        pck, epe = r['PCK'], r['EPE']
        lines.append(
            f"| {VARIANTS[r['variant']][0]} | {r['labels'] or f'all ({POOL})'} | "
            f"{_test_column(r)} | "
            f"{r['iters']} | {len(r['seeds'])} | **{pck[0]:.3f}** ({pck[1]:.3f}-{pck[2]:.3f}) | "
            f"{epe[0]:.2f} ({epe[1]:.2f}-{epe[2]:.2f}) | {r['train_s']:.0f} |")
    return '\n'.join(lines)


def _test_column(row: dict) -> str:
    if row['holdout']:
        return f"unseen family: {row['holdout']}"
    if row.get('family'):
        return f"{row['family']} (seen in training)"
    return 'all families'


def plot_curves(results: List[dict], out_file: str) -> str:
    """Learning curves (``result['curve']`` of :func:`run` with ``curve_every``) as a
    PNG: validation PCK@0.1 and EPE against the iteration, a colour per variant, a
    line style per label count."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6))
    styles = {}
    colours = {}
    for r in results:
        style = styles.setdefault(r['labels'], ('-', '--', ':', '-.')[len(styles) % 4])
        colour = colours.setdefault(r['variant'], f'C{len(colours)}')
        its = [p['iter'] for p in r['curve']]
        label = f"{r['variant']}, {r['labels'] or 'all'} labels"
        for ax, key in zip(axes, ('PCK', 'EPE')):
            ax.plot(its, [p[key] for p in r['curve']], style, color=colour, label=label)
    for ax, title in zip(axes, ('validation PCK@0.1 (higher is better)',
                                'validation EPE, px (lower is better)')):
        ax.set_title(title, fontsize=10)
        ax.set_xlabel('iteration (batch 16, constant rate after 20 warm-up)')
        ax.grid(alpha=0.3)
    axes[1].legend(fontsize=7, loc='upper right')
    fig.tight_layout()
    fig.savefig(out_file, dpi=110)
    plt.close(fig)
    return out_file
