"""MMPose metainfo for a new keypoint set, read from a COCO-keypoints export.

:func:`read_coco_keypoints` loads and checks one export (CVAT, Label Studio, ... any
"COCO keypoints" json); :func:`metainfo_from_coco` turns its keypoint list into an
MMPose ``dataset_info`` (the content of a ``configs/_base_/datasets/*.py`` file):

- names: ``categories[].keypoints``; several categories sharing one list (as
  AP-10K's 54 species) form one set;
- flip pairs: inferred from the names by the naming rules of
  :mod:`genloc_mmpose.keypoint_names` (``infer_flip_pairs``), or given;
- skeleton: ``categories[].skeleton`` (COCO's 1-based links); links out of range
  are dropped with a warning naming them;
- OKS sigmas: one value for every keypoint (:data:`DEFAULT_SIGMA`), joint weights 1,
  a deterministic colour palette (:func:`palette`).
"""
import colorsys
import json
import logging
import os.path as osp
from collections import Counter
from typing import Dict, List, Optional, Sequence, Tuple

from mmengine.logging import print_log

from ..keypoint_names import flip_indices, infer_flip_pairs

# OKS sigma of every keypoint when none is measured: the mean of COCO's 17 sigmas
# (0.025 eyes ... 0.107 hips; mean 0.0669), a keypoint of average COCO precision.
DEFAULT_SIGMA = 0.067


def palette(num_keypoints: int, pairs: Sequence[Tuple[int, int]]) -> List[List[int]]:
    """Deterministic RGB colours: hues evenly spaced over the parts (a pair is one
    part and shares its colour), in keypoint order."""
    partner = flip_indices(num_keypoints, pairs)
    part: Dict[int, int] = {}
    for i in range(num_keypoints):
        part[i] = part[partner[i]] if partner[i] in part else len(set(part.values()))
    num_parts = len(set(part.values()))
    return [[round(255 * c) for c in colorsys.hsv_to_rgb(part[i] / num_parts, 0.8, 0.95)]
            for i in range(num_keypoints)]


def load_json(path: str):
    """The json in ``path``; ValueError naming it when unreadable."""
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, json.JSONDecodeError) as err:
        raise ValueError(f'{path}: cannot read it as JSON ({err}).') from err


def read_coco_keypoints(path: str, category: Optional[str] = None) -> dict:
    """Load and check a COCO-keypoints export (:func:`check_coco_keypoints`)."""
    return check_coco_keypoints(load_json(path), path, category)


def check_coco_keypoints(coco, path: str, category: Optional[str] = None) -> dict:
    """Check COCO keypoints read from ``path``.

    Returns dict(coco=the json, names=keypoint names, skeleton=categories' links,
    categories=names of the categories with this keypoint list). Raises ValueError
    naming ``path`` and the fix: not COCO keypoints, several keypoint lists (unless
    ``category`` picks one), duplicate names, keypoint arrays of the wrong length,
    annotations of other categories, annotations without a box.
    """
    cats = [c for c in coco.get('categories', []) if c.get('keypoints')] \
        if isinstance(coco, dict) else []
    if not cats or not isinstance(coco.get('annotations'), list) \
            or not isinstance(coco.get('images'), list):
        raise ValueError(
            f'{path} is not a COCO keypoints file: it needs "images", "annotations" and '
            'categories[].keypoints (the keypoint names). Export your labels as "COCO '
            'Keypoints" (CVAT: "COCO Keypoints 1.0"; Label Studio: "COCO" with '
            'keypoint labels).')
    if category is not None:
        cats = [c for c in cats if c.get('name') == category]
        if not cats:
            raise ValueError(f'{path}: no category named {category!r} with keypoints.')
    lists = {}
    for cat in cats:
        lists.setdefault(tuple(cat['keypoints']), []).append(cat)
    if len(lists) > 1:
        listing = '; '.join(f'{[c.get("name") for c in group]}: {list(names)}'
                            for names, group in lists.items())
        raise ValueError(f'{path} holds several keypoint lists ({listing}). Pick one '
                         'category with --category NAME.')
    (names, cats), = lists.items()
    names = list(names)
    duplicates = [n for n, count in Counter(names).items() if count > 1]
    if duplicates:
        raise ValueError(f'{path}: duplicate keypoint names {duplicates}; keypoint names '
                         'must be unique (rename them in the annotation tool).')
    cat_ids = {c['id'] for c in cats}
    annotations = [a for a in coco['annotations'] if 'keypoints' in a]
    for what, bad in (
            (f'a category_id not in {sorted(cat_ids)} (the categories with this '
             'keypoint list); export only those categories',
             [a for a in annotations if a.get('category_id') not in cat_ids]),
            (f'keypoints of another length than 3 x {len(names)} (x, y, v per name)',
             [a for a in annotations if len(a['keypoints']) != 3 * len(names)]),
            ('no "bbox" (x, y, w, h); export boxes with the keypoints',
             [a for a in annotations if len(a.get('bbox', ())) != 4])):
        if bad:
            ids = [a.get('id') for a in bad[:5]]
            raise ValueError(f'{path}: {len(bad)} annotations have {what} '
                             f'(annotation ids {ids}{" ..." if len(bad) > 5 else ""}).')
    skeleton = []
    for cat in cats:
        skeleton += [list(link) for link in cat.get('skeleton', []) or []
                     if list(link) not in skeleton]
    return dict(coco=coco, names=names, skeleton=skeleton,
                categories=[c.get('name', str(c['id'])) for c in cats])


def check_images(path: str, coco: dict, img_root: str) -> None:
    """Raise FileNotFoundError listing the first images of ``path`` missing under
    ``img_root``."""
    missing = [img['file_name'] for img in coco['images']
               if not osp.isfile(osp.join(img_root, img['file_name']))]
    if missing:
        raise FileNotFoundError(
            f'{len(missing)} of the {len(coco["images"])} images of {path} are missing '
            f'under --img-root {img_root}: {missing[:5]}{" ..." if len(missing) > 5 else ""}'
            '. --img-root is the folder that images[].file_name is relative to.')


def count_labelled(coco: dict) -> int:
    """Number of labelled keypoints (v > 0) in the annotations."""
    return sum(v > 0 for a in coco['annotations'] for v in a.get('keypoints', [])[2::3])


def skeleton_links(skeleton: Sequence[Sequence[int]], names: Sequence[str],
                   path: str = '') -> List[Tuple[int, int]]:
    """COCO's 1-based skeleton links -> 0-based pairs; links out of range (or not
    two indices) are dropped with a warning naming them."""
    num = len(names)
    kept, dropped = [], []
    for link in skeleton:
        if len(link) == 2 and all(isinstance(i, int) and 1 <= i <= num for i in link) \
                and link[0] != link[1]:
            kept.append((link[0] - 1, link[1] - 1))
        else:
            dropped.append(list(link))
    if dropped:
        print_log(f'{path}: dropped skeleton links out of range for {num} keypoints '
                  f'(COCO links are 1-based, 1..{num}): {dropped}', 'current',
                  level=logging.WARNING)
    return kept


def metainfo_from_coco(names: Sequence[str], skeleton: Sequence[Sequence[int]],
                       dataset_name: str, sigma: float = DEFAULT_SIGMA,
                       flip_pairs: Optional[Sequence[Tuple[int, int]]] = None,
                       path: str = '') -> dict:
    """MMPose ``dataset_info`` for a keypoint set (the module docstring's rules);
    ``flip_pairs`` (index pairs) replaces the inferred pairs."""
    names = list(names)
    pairs = infer_flip_pairs(names) if flip_pairs is None else list(flip_pairs)
    partner = flip_indices(len(names), pairs)
    colors = palette(len(names), pairs)
    links = skeleton_links(skeleton, names, path)
    return dict(
        dataset_name=dataset_name,
        keypoint_info={
            i: dict(name=name, id=i, color=colors[i], type='',
                    swap=names[partner[i]] if partner[i] != i else '')
            for i, name in enumerate(names)
        },
        skeleton_info={
            i: dict(link=(names[a], names[b]), id=i, color=colors[b])
            for i, (a, b) in enumerate(links)
        },
        joint_weights=[1.0] * len(names),
        sigmas=[float(sigma)] * len(names))


def str_literal(text: str) -> str:
    """``repr(text)``, with every ``{{`` split into adjacent literals (``'a{' '{b'``):
    MMEngine substitutes ``{{ ... }}`` in a config file's text before running it,
    so a name holding one would silently change (or break the file)."""
    literal = repr(text)
    quote = literal[0]
    while '{{' in literal:
        literal = literal.replace('{{', '{' + quote + ' ' + quote + '{')
    return literal


def format_py(value, indent: int = 0) -> str:
    """A config value as Python source in MMEngine's config style (``dict(...)``
    for keyword dicts, one item per line when it does not fit on one)."""
    pad = ' ' * (indent + 4)
    if isinstance(value, dict):
        keyword = all(isinstance(k, str) and k.isidentifier() for k in value)
        items = [f'{k}={format_py(v, indent + 4)}' if keyword else
                 f'{format_py(k)}: {format_py(v, indent + 4)}' for k, v in value.items()]
        start, end = ('dict(', ')') if keyword else ('{', '}')
    elif isinstance(value, (list, tuple)):
        items = [format_py(v, indent + 4) for v in value]
        start, end = ('[', ']') if isinstance(value, list) else ('(', ')')
        if isinstance(value, tuple) and len(value) == 1:
            items[0] += ','
    elif isinstance(value, str):
        return str_literal(value)
    else:
        return repr(value)
    one_line = start + ', '.join(items) + end
    if len(one_line) + indent <= 92 and '\n' not in one_line:
        return one_line
    return start + '\n' + ''.join(f'{pad}{item},\n' for item in items) + ' ' * indent + end
