"""A GenLoc config (and its MMPose metainfo) for a new keypoint set from the labels of
COCO-keypoints exports, DeepLabCut projects or SLEAP files: the library behind
``tools/new_keypoints.py`` (docs/custom_keypoints.md).

DeepLabCut and SLEAP labels become COCO keypoints under a data folder
(:mod:`.datasets.lab_formats`); one labelled set without ``val`` is split by image
(seeded). The config inherits a recipe (:data:`ARCHS`) and states what comes from the
data: metainfo, ``num_keypoints``, data files, input size (codec and pipelines, taken
from the recipe, with the shipped configs' fast data options), schedule, condition init
and evaluation (``use_area=False`` when annotations lack ``area``: OKS then scales with
0.53 x box area, the rule MMPose uses for such annotations).
"""
import argparse
import json
import math
import os
import os.path as osp
import random
import re
import sys
from typing import List, Optional, Sequence, Tuple, Union

from mmengine.config import Config

from .datasets.keypoint_metainfo import (DEFAULT_SIGMA, check_coco_keypoints, check_images,
                                         count_labelled, format_py, load_json,
                                         metainfo_from_coco)
from .datasets.lab_formats import label_format, read_dlc_project, read_slp, write_frames
from .datasets.transforms import fast_pipeline
from .keypoint_names import infer_flip_pairs, parse_flip_pairs
from .models.text_conditions import ENCODER_FOLDERS
from .resources import MINI_SD, config_file

# recipe: base config, default input size (W, H), multiple the input size must be
# (VAE x U-Net downsampling), default schedule in training iterations (None: the base
# config's max_iters, whatever the data size), default
# Stable Diffusion weights (the prior; None: random weights)
ARCHS = dict(
    sd15=dict(
        base=config_file('genloc', 'custom', '_base_', 'genloc_sd15-lora16_custom.py'),
        name='genloc_sd15-lora16', input_size=(256, 256), size_divisor=64,
        # the few-shot configs' rule: ~800 optimizer steps (of 8 accumulated
        # iterations of batch 25), whatever the data size
        iters=800 * 8, schedule='about 800 optimizer steps, as the few-shot configs',
        weights='checkpoints/stable-diffusion-v1-5'),
    # the creature config's recipe on a prior trained at 64 px (the miniature SD):
    # the CPU recipe of the demo and of the app's Teach tab
    minisd=dict(
        base=config_file('genloc', 'creatures',
                         'genloc_minisd-lora16_1xb16-1000it_creatures-64x64.py'),
        name='genloc_minisd-lora16', input_size=(64, 64), size_divisor=32,
        iters=None, schedule="the creature config's iterations (the demo's budget)",
        weights=MINI_SD),
    tiny=dict(
        base=config_file('genloc', 'tiny', 'genloc_tiny_1xb4-300it_coco-128x96.py'),
        name='genloc_tiny', input_size=(128, 128), size_divisor=8,
        iters=300, schedule='about 300 iterations, as the tiny demo', weights=None))


def served_recipe(config: str) -> dict:
    """The recipe a trained model's own config makes (the app's Teach: train a new
    keypoint set the way the served model was trained, on its prior): its model,
    codec, input size and iteration budget; its ``model.backbone.pretrained`` as the
    weights (None: random weights). Iteration-based configs only."""
    cfg = Config.fromfile(config)
    if 'max_iters' not in cfg.train_cfg:
        raise ValueError(f'{config}: an epoch-based schedule; Teach needs an '
                         'iteration-based recipe (e.g. --arch minisd or tiny).')
    return dict(base=osp.abspath(config), name='genloc_taught',
                input_size=tuple(cfg.codec['input_size']), size_divisor=1, iters=None,
                schedule=f'{cfg.train_cfg.max_iters} iterations, as {osp.basename(config)}',
                weights=cfg.model.backbone.get('pretrained'))


class Ref(str):
    """A reference to a config variable: written without quotes."""

    def __repr__(self):
        return str(self)


def _rel(path: str) -> str:
    """``path`` relative to the working directory if inside it (the configs are run
    from there), else absolute."""
    path = osp.abspath(path)
    rel = osp.relpath(path)
    return path if rel.startswith('..') else rel


def has_text_encoder(folder: str) -> bool:
    """Whether a diffusers folder holds SD's text encoder and tokenizer."""
    return all(osp.isdir(osp.join(folder, sub)) for sub in ENCODER_FOLDERS[0])


def _sized_pipeline(pipeline: List[dict], input_size: Sequence[int],
                    test_mode: bool = False) -> List[dict]:
    """The recipe's pipeline with the shipped configs' fast data options for
    ``input_size`` (:func:`~.datasets.transforms.fast_pipeline`), its input size /
    codec from the config's codec."""
    pipeline = fast_pipeline(pipeline, input_size, test_mode)
    for step in pipeline:
        if step['type'] in ('TopdownAffine', 'GenLocTopdownAffine'):
            step['input_size'] = Ref("codec['input_size']")
        if step['type'] == 'GenerateTarget':
            step['encoder'] = Ref('codec')
    return pipeline


def read_labels(path: str, split: str, name: str, img_root: Optional[str], data_dir: str,
                box_margin: float) -> dict:
    """One labelled set in any of :func:`~.datasets.lab_formats.label_format`'s forms as
    dict(path, format, coco, img_root, ann_file=the COCO file if it exists already,
    frames=SLEAP frames to write, flip_pairs=SLEAP symmetries, notes)."""
    if not osp.exists(path):
        raise FileNotFoundError(f'--{split} {path}: no such file or folder.')
    fmt = label_format(path)
    if fmt == 'coco':
        if img_root is None:
            raise ValueError(f'--{split} {path}: COCO keypoints need --img-root (the folder '
                             'that images[].file_name is relative to).')
        if not osp.isdir(img_root):
            raise FileNotFoundError(f'--img-root {img_root} is not a folder.')
        return dict(path=path, format=fmt, coco=load_json(path), img_root=img_root,
                    ann_file=path, frames=[], flip_pairs=None, notes=[])
    if fmt == 'dlc':
        labels = read_dlc_project(path, name, box_margin)
        frames, flip_pairs = [], None
    else:
        labels = read_slp(path, name, split, box_margin)
        labels['img_root'] = osp.join(data_dir, 'images')
        frames, flip_pairs = labels['frames'], labels['flip_pairs'] or None
    return dict(path=path, format=fmt, coco=labels['coco'], img_root=labels['img_root'],
                ann_file=None, frames=frames, flip_pairs=flip_pairs, notes=labels['notes'])


def split_by_image(coco: dict, val_fraction: float, seed: int,
                   path: str) -> Tuple[dict, dict]:
    """(train, val) parts of a COCO dict: a seeded random ``val_fraction`` of its images
    (at least one, and one left to train) with their annotations go to val."""
    ids = sorted(img['id'] for img in coco['images'])
    if len(ids) < 2:
        raise ValueError(f'{path} holds {len(ids)} labelled image(s): too few to split off '
                         'a validation image. Label more, or give --val.')
    random.Random(seed).shuffle(ids)
    val_ids = set(ids[:min(len(ids) - 1, max(1, round(val_fraction * len(ids))))])

    def part(val):
        return dict(coco, images=[i for i in coco['images'] if (i['id'] in val_ids) == val],
                    annotations=[a for a in coco['annotations']
                                 if (a['image_id'] in val_ids) == val])

    return part(False), part(True)


def new_keypoint_config(name: str, train: str, val: Optional[str] = None,
                        img_root: Optional[str] = None, test: Optional[str] = None,
                        arch: Union[str, dict] = 'sd15', weights: Optional[str] = None,
                        input_size: Optional[Sequence[int]] = None,
                        epochs: Optional[int] = None, flip_pairs: Optional[str] = None,
                        sigma: float = DEFAULT_SIGMA, out_dir: str = 'configs/custom',
                        category: Optional[str] = None,
                        object_name: Optional[str] = None, val_fraction: float = 0.2,
                        seed: int = 0, box_margin: float = 0.1,
                        data_dir: Optional[str] = None,
                        random_weights: bool = False) -> Tuple[str, List[str]]:
    """Read and check the labels, write the converted / split labels (under
    ``data_dir``, default ``work_dirs/<config name>/data``), the metainfo and the config.

    ``train`` / ``val`` / ``test``: COCO json (images under ``img_root``), DeepLabCut
    project or SLEAP file; without ``val``, ``val_fraction`` of the train images
    (seeded). Returns (config path, report lines to print). Raises ValueError /
    FileNotFoundError naming the file or option and the fix; nothing is written then.
    ``arch``: a name in :data:`ARCHS` or a recipe dict (:func:`served_recipe`);
    ``weights``: the prior (a diffusers folder; default: the recipe's);
    ``random_weights``: the same architecture (its ``unet/`` and ``vae/config.json``)
    with random frozen weights instead, to measure what the prior brings.
    """
    if not re.fullmatch(r'[A-Za-z0-9][A-Za-z0-9_-]*', name):
        raise ValueError(f'NAME {name!r}: use letters, digits, "_" and "-" (it names the '
                         'dataset and the config file).')
    if isinstance(arch, dict):
        recipe, arch = arch, arch['name']
    elif arch in ARCHS:
        recipe = ARCHS[arch]
    else:
        raise ValueError(f'--arch {arch!r}: one of {list(ARCHS)}.')
    weights = weights or recipe['weights']
    size = tuple(input_size or recipe['input_size'])
    if len(size) != 2 or any(s <= 0 or s % recipe['size_divisor'] for s in size):
        raise ValueError(f'--input-size {size}: width and height must be positive '
                         f'multiples of {recipe["size_divisor"]} for --arch {arch}.')
    if epochs is not None and epochs < 1:
        raise ValueError(f'--epochs {epochs}: must be >= 1.')
    if not sigma > 0:
        raise ValueError(f'--sigma {sigma}: must be > 0.')
    if not 0 < val_fraction < 1:
        raise ValueError(f'--val-fraction {val_fraction}: must be between 0 and 1.')
    if not box_margin >= 0:
        raise ValueError(f'--box-margin {box_margin}: must be >= 0.')
    if random_weights:
        arch_files = [osp.join(weights or '', sub, 'config.json') for sub in ('unet', 'vae')]
        if not weights or not all(osp.isfile(f) for f in arch_files):
            raise ValueError(f'--random-weights takes the architecture from a diffusers '
                             f'folder (unet/config.json, vae/config.json); {weights!r} has '
                             'none: pass it with --weights.')
    stem = f'{recipe["name"]}_{name}-{size[0]}x{size[1]}'
    config_path = osp.join(out_dir, f'{stem}.py')
    data_dir = data_dir or osp.join('work_dirs', stem, 'data')

    sets = {}
    for split, path in dict(train=train, val=val, test=test).items():
        if path:  # a set given twice (train and test) is read once
            same = [s for s in sets.values() if s['path'] == path]
            sets[split] = same[0] if same else read_labels(path, split, name, img_root,
                                                           data_dir, box_margin)
    data = {split: check_coco_keypoints(
        s['coco'], s['path'], category if s['format'] == 'coco' else None)
        for split, s in sets.items()}
    names = data['train']['names']
    for split, s in sets.items():
        if data[split]['names'] != names:
            raise ValueError(f'{s["path"]} ({split}) has the keypoints '
                             f'{data[split]["names"]}, the train labels {train} have {names}: '
                             'label every split with the same keypoint list.')
        if s['format'] != 'sleap':  # SLEAP frames are written below
            check_images(s['path'], data[split]['coco'], s['img_root'])
    report = list(dict.fromkeys(note for s in sets.values() for note in s['notes']))
    if val is None:
        parts = split_by_image(data['train']['coco'], val_fraction, seed, train)
        sets['val'] = dict(sets['train'], ann_file=None, frames=[])
        sets['train'] = dict(sets['train'], ann_file=None)
        data['val'] = dict(data['train'], coco=parts[1])
        data['train'] = dict(data['train'], coco=parts[0])
        val_files = [img['file_name'] for img in parts[1]['images']]
        report.append(
            f'no --val: {train} split by image (--seed {seed}, --val-fraction '
            f'{val_fraction}): {len(parts[0]["images"])} train, {len(val_files)} val images; '
            f'val: {val_files[:10]}{" ..." if len(val_files) > 10 else ""}')
    if not count_labelled(data['train']['coco']):
        raise ValueError(f'{train} has no labelled keypoint (every visibility flag is 0): '
                         'nothing to train on.')
    if flip_pairs is not None:
        pairs, pairs_from = parse_flip_pairs(flip_pairs, names), 'from --flip-pairs'
    elif sets['train']['flip_pairs']:
        pairs = sets['train']['flip_pairs']
        pairs_from = "from the SLEAP skeleton's symmetries"
    else:
        pairs, pairs_from = infer_flip_pairs(names, train), 'inferred from the names'
    metainfo = metainfo_from_coco(names, data['train']['skeleton'], name, sigma, pairs,
                                  train)
    base = Config.fromfile(recipe['base'])
    ratio = [h / i for h, i in zip(base.codec['heatmap_size'], base.codec['input_size'])]
    codec = dict(base.codec.to_dict(), input_size=size,
                 heatmap_size=tuple(round(s * r) for s, r in zip(size, ratio)))
    num_train = sum(any(v > 0 for v in a['keypoints'][2::3])
                    for a in data['train']['coco']['annotations'] if 'keypoints' in a)
    batch = base.train_dataloader.batch_size
    iters_per_epoch = math.ceil(num_train / batch)
    epochs = epochs or math.ceil((recipe['iters'] or base.train_cfg.max_iters)
                                 / iters_per_epoch)
    cats = data['train']['categories']
    object_name = object_name or (cats[0] if len(cats) == 1 else 'object')
    text = weights is not None and not random_weights and has_text_encoder(weights)
    weights = weights and _rel(weights)  # like the other paths: from the current directory
    use_area = all('area' in a for split in ('val', 'test') if split in data
                   for a in data[split]['coco']['annotations'])

    # checks done: write the converted / split labels, the metainfo and the config
    for split, s in sets.items():
        if s['ann_file'] is None:
            s['ann_file'] = osp.join(data_dir, f'{split}.json')
            os.makedirs(data_dir, exist_ok=True)
            with open(s['ann_file'], 'w') as f:
                json.dump(data[split]['coco'], f)
            report.append(f'{split} labels: {_rel(s["ann_file"])} (images under '
                          f'{_rel(s["img_root"])})')
            write_frames(s['frames'], s['img_root'])
    meta_path = osp.join(out_dir, '_base_', 'datasets', f'{name}.py')
    meta_text = (f'# MMPose metainfo of "{name}", written by tools/new_keypoints.py from '
                 f'{_rel(train)}\n# (flip pairs {pairs_from}, OKS sigma {sigma} for '
                 'every keypoint; docs/custom_keypoints.md).\n'
                 f'dataset_info = {format_py(metainfo)}\n')
    config_text = _config_text(
        name=name, arch=arch, sets=sets, recipe=recipe, base=base,
        codec=codec, num_keypoints=len(names), weights=weights, text=text,
        random_weights=random_weights, object_name=object_name, epochs=epochs,
        iters_per_epoch=iters_per_epoch,
        use_area=use_area, config_dir=osp.dirname(config_path))
    os.makedirs(osp.dirname(meta_path), exist_ok=True)
    for path, source in ((meta_path, meta_text), (config_path, config_text)):
        with open(path, 'w') as f:
            f.write(source)

    side = {i: names[j] for i, j in pairs}
    report += [
        f'{len(names)} keypoints: {names}',
        f'flip pairs ({pairs_from}): '
        + (', '.join(f'{names[i]} <-> {side[i]}' for i in side) or 'none'),
        f'skeleton: {len(metainfo["skeleton_info"])} links; OKS sigma {sigma}; '
        f'{num_train} labelled training instances; {epochs} epochs '
        f'({recipe["schedule"]})',
        'conditions: random, the paper\'s (started from the keypoint names, they end '
        'below random after training on the miniature SD: docs/experiments.md); '
        + (f'random frozen weights with the architecture of {weights} (no prior)'
           if random_weights else
           f'--cfg-options model.backbone.condition_init=text starts them from the names '
           f'with the text encoder in {weights}' if text else
           f'{weights} has no text_encoder/ and tokenizer/ for condition_init="text"'
           if weights else 'tiny random U-Net')]
    if not use_area:
        report.append('annotations without "area": CocoMetric(use_area=False), OKS '
                      'scale = 0.53 x box area')
    return config_path, report


def _config_text(name, arch, sets, recipe, base, codec, num_keypoints, weights, text,
                 random_weights, object_name, epochs, iters_per_epoch, use_area,
                 config_dir) -> str:
    """Python source of the generated config."""
    # relative where the config and its recipe are both under the working directory
    # (a checkout), else the recipe's absolute path (an installed package)
    inside = not any(osp.relpath(osp.abspath(p)).startswith('..')
                     for p in (config_dir, recipe['base']))
    base_path = osp.relpath(recipe['base'], osp.abspath(config_dir)) if inside \
        else recipe['base']
    sets = dict(sets, test=sets.get('test', sets['val']))
    roots = {split: osp.join(_rel(s['img_root']), '') for split, s in sets.items()}
    lines = [
        f'# GenLoc on "{name}" ({num_keypoints} keypoints), written by '
        'tools/new_keypoints.py from',
        *[f'#   {split}: {_rel(s["ann_file"])}' + (
            f' (from {_rel(s["path"])})' if s['ann_file'] != s['path'] else '')
          for split, s in sets.items()],
        f'# Recipe: {_rel(recipe["base"])}; docs/custom_keypoints.md.',
        f'_base_ = [{base_path!r}]',
        '',
        "metainfo = dict(from_file='{{ fileDirname }}/_base_/datasets/%s.py')" % name,
        f'num_keypoints = {num_keypoints}',
    ]
    if len(set(roots.values())) == 1:  # one image folder: one variable
        lines.append(f'img_root = {roots["train"]!r}')
        roots = dict.fromkeys(roots, Ref('img_root'))
    backbone = dict(num_keypoints=Ref('num_keypoints'))
    if weights and random_weights:
        lines.append(f'sd_weights = None  # random frozen weights, the architecture of '
                     f'{weights}')
        backbone.update(pretrained=Ref('sd_weights'), condition_init='random',
                        unet_cfg=osp.join(weights, 'unet', 'config.json'),
                        vae_cfg=osp.join(weights, 'vae', 'config.json'))
    elif weights:
        lines.append(f'sd_weights = {weights!r}')
        backbone.update(pretrained=Ref('sd_weights'),
                        condition_init='random',
                        keypoint_names=Ref('metainfo'), object_name=object_name)
    if 'max_epochs' in base.train_cfg:
        lines.append(f'max_epochs = {epochs}')
        schedule = dict(
            train_cfg=dict(max_epochs=Ref('max_epochs'), val_interval=max(1, epochs // 10)),
            param_scheduler=[
                dict(type='LinearLR', begin=0, end=500, start_factor=0.001, by_epoch=False),
                dict(type='MultiStepLR', begin=0, end=Ref('max_epochs'), by_epoch=True,
                     milestones=[round(0.8 * epochs), round(0.95 * epochs)], gamma=0.1)],
            default_hooks=dict(checkpoint=dict(interval=max(1, epochs // 10))))
    else:
        max_iters = epochs * iters_per_epoch
        lines.append(f'max_iters = {max_iters}  # {epochs} epochs of {iters_per_epoch} '
                     'iterations')
        # the recipe's warm-up (if any), then cosine to the end
        warmup = [dict(step) for step in base.param_scheduler[:-1]]
        start = warmup[-1]['end'] if warmup else 0
        schedule = dict(
            train_cfg=dict(max_iters=Ref('max_iters'), val_interval=Ref('max_iters')),
            param_scheduler=warmup + [dict(
                type='CosineAnnealingLR', begin=start, end=Ref('max_iters'),
                T_max=Ref(f'max_iters - {start}') if start else Ref('max_iters'),
                by_epoch=False)],
            default_hooks=dict(checkpoint=dict(interval=Ref('max_iters'))))
    ann = {split: _rel(s['ann_file']) for split, s in sets.items()}

    def dataset(split, **kwargs):
        return dict(type='CocoDataset', data_root='', metainfo=Ref('metainfo'),
                    data_prefix=dict(img=roots[split]), ann_file=ann[split], **kwargs)

    evaluator = dict(type='CocoMetric', use_area=use_area)
    # the recipe's other metrics (e.g. PCK and EPE of the creature recipe) kept
    validated = base.get('val_dataloader') is not None
    metrics = base.val_evaluator if validated else base.test_evaluator
    others = [dict(m) for m in metrics if m['type'] != 'CocoMetric'] \
        if isinstance(metrics, list) else []

    def evaluators(split):
        coco = dict(evaluator, ann_file=ann[split])
        return [coco, *others] if others else coco
    parts = dict(
        codec=codec,
        model=dict(backbone=backbone, head=dict(decoder=Ref('codec'))),
        train_pipeline=_sized_pipeline(base.train_pipeline, codec['input_size']),
        val_pipeline=_sized_pipeline(base.val_pipeline, codec['input_size'], test_mode=True),
        train_dataloader=dict(dataset=dataset('train', pipeline=Ref('train_pipeline'))),
        val_dataloader=dict(dataset=dataset('val', test_mode=True,
                                            pipeline=Ref('val_pipeline'))),
        # a recipe trained without validation (a served model such as the demo's):
        # validation as its test loader, written whole
        **({} if validated else dict(val_cfg=dict(_delete_=True, type='ValLoop'))),
        test_dataloader=dict(dataset=dataset('test', test_mode=True,
                                             pipeline=Ref('val_pipeline'))),
        val_evaluator=evaluators('val'),
        test_evaluator=evaluators('test'),
        **schedule)
    if not validated:
        parts['val_dataloader'] = dict(
            {k: v for k, v in base.test_dataloader.items() if k != 'dataset'},
            _delete_=True, **parts['val_dataloader'])
    lines.append('')
    lines += [f'{key} = {format_py(value)}' for key, value in parts.items()]
    return '\n'.join(lines) + '\n'


def main(argv: Optional[Sequence[str]] = None) -> None:
    """``genloc-new-keypoints NAME --train LABELS ...`` (``tools/new_keypoints.py``):
    writes the config, prints the report, the commands and, last, the config's path."""
    parser = argparse.ArgumentParser(
        prog='genloc-new-keypoints', description='A GenLoc config for your own keypoints '
        'from COCO-keypoints exports, a DeepLabCut project or a SLEAP file '
        '(docs/custom_keypoints.md); the last line of stdout is the config\'s path.')
    parser.add_argument('name', help='name of the keypoint set (dataset and file names)')
    labels = 'COCO-keypoints .json, DeepLabCut project (folder or config.yaml) or SLEAP .slp'
    parser.add_argument('--train', required=True, help=f'labels to train on: {labels}')
    parser.add_argument('--val', help='labels to validate on (default: --val-fraction of '
                        'the --train images, split by image)')
    parser.add_argument('--test', help='labels to test on (default: --val)')
    parser.add_argument('--img-root', help='COCO files: the folder that '
                        'images[].file_name is relative to')
    parser.add_argument('--val-fraction', type=float, default=0.2,
                        help='without --val: the share of the --train images to validate on')
    parser.add_argument('--seed', type=int, default=0, help='seed of that split')
    parser.add_argument('--box-margin', type=float, default=0.1,
                        help='DeepLabCut / SLEAP: boxes are the labelled points\' box grown '
                        'by this share of its longer side on each side')
    parser.add_argument('--data-dir', help='where DeepLabCut / SLEAP labels and split sets '
                        'are written as COCO (default: work_dirs/<config name>/data)')
    parser.add_argument('--arch', default='sd15', choices=list(ARCHS),
                        help='sd15: the SD-1.5 recipe; minisd: the CPU recipe on the '
                        'miniature SD (64x64); tiny: a random-weight CPU model (a dry run '
                        'of the whole chain in minutes)')
    parser.add_argument('--weights', help='local Stable Diffusion weights (default: '
                        'sd15 checkpoints/stable-diffusion-v1-5, minisd the shipped '
                        'miniature SD)')
    parser.add_argument('--random-weights', action='store_true',
                        help='the same architecture with random frozen weights instead of '
                        'the prior (what the prior brings: train both, compare)')
    parser.add_argument('--input-size', type=int, nargs=2, metavar=('W', 'H'))
    parser.add_argument('--epochs', type=int, help='default: see docs/custom_keypoints.md')
    parser.add_argument('--flip-pairs', help='"a:b,c:d" keypoint names ("" for none); '
                        "default: a SLEAP skeleton's symmetries, else inferred from the "
                        'names')
    parser.add_argument('--sigma', type=float, default=DEFAULT_SIGMA,
                        help='OKS sigma of every keypoint')
    parser.add_argument('--category', help='the category whose keypoints to use, when '
                        'the export holds several keypoint lists')
    parser.add_argument('--object', help='object name in the text prompts (default: the '
                        'COCO category name; DeepLabCut / SLEAP: NAME)')
    parser.add_argument('--out-dir', default='configs/custom')
    args = parser.parse_args(argv)
    try:
        config, report = new_keypoint_config(
            args.name, args.train, args.val, args.img_root, test=args.test, arch=args.arch,
            weights=args.weights, input_size=args.input_size, epochs=args.epochs,
            flip_pairs=args.flip_pairs, sigma=args.sigma, out_dir=args.out_dir,
            category=args.category, object_name=args.object,
            val_fraction=args.val_fraction, seed=args.seed, box_margin=args.box_margin,
            data_dir=args.data_dir, random_weights=args.random_weights)
    except (ValueError, FileNotFoundError) as err:
        sys.exit(f'genloc-new-keypoints: error: {err}')
    work_dir = osp.join('work_dirs', osp.splitext(osp.basename(config))[0])
    ckpt = osp.join(work_dir, 'last_checkpoint')
    print('\n'.join(report))
    print(f'\nTrain, test (the checkpoint named in {ckpt}), infer:')
    print(f'  genloc-train {config}')
    print(f'  genloc-test {config} $(cat {ckpt})')
    print(f'  python -c "import genloc_mmpose; from mmpose.apis import MMPoseInferencer; '
          f"next(MMPoseInferencer(pose2d='{config}', pose2d_weights='$(cat {ckpt})', "
          f"det_model='whole_image')('IMAGE.jpg', vis_out_dir='vis'))\"")
    print(config)

