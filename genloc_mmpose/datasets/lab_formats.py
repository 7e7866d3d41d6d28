"""COCO keypoints from the label files of animal-pose tools, read with sleap-io
(docs/custom_keypoints.md):

- DeepLabCut projects: ``config.yaml`` (body parts in order, skeleton) and
  ``labeled-data/<video>/CollectedData_<scorer>.csv``, single- and multi-animal; the
  images stay where they are (image root: the project folder);
- SLEAP ``.slp`` files: the user-labelled instances (not predictions); their frames
  (from videos, image lists or embedded in a ``.pkg.slp``) are written as PNG files;
  the skeleton's symmetries are its flip pairs.

Neither tool stores boxes: an instance's box is the box of its labelled points grown
on each side by ``box_margin`` of its longer side (at least 1 % of the image's longer
side), clipped to the image. Unlabelled points are invisible (v = 0), labelled ones
v = 2; instances without a labelled point, and frames without instances, are left out.
"""
import glob
import os
import os.path as osp
from collections import Counter
from typing import List, Optional, Sequence, Tuple

import cv2
import numpy as np
import yaml
from PIL import Image

FORMATS_HELP = ('a COCO-keypoints .json, a DeepLabCut project (its folder or its '
                'config.yaml) or a SLEAP .slp file')


def label_format(path: str) -> str:
    """``'coco'``, ``'dlc'`` or ``'sleap'`` from the path; ValueError otherwise."""
    if osp.isdir(path) or path.endswith(('.yaml', '.yml')):
        return 'dlc'
    if path.endswith('.slp'):
        return 'sleap'
    if path.endswith('.json'):
        return 'coco'
    raise ValueError(f'{path}: not a label file GenLoc reads; give {FORMATS_HELP}.')


def instance_annotation(points: np.ndarray, width: int, height: int,
                        box_margin: float) -> Optional[dict]:
    """COCO annotation fields of one instance from its points (K, 2), NaN where
    unlabelled (module docstring); None without a labelled point."""
    labelled = ~np.isnan(points).any(axis=1)
    if not labelled.any():
        return None
    (x0, y0), (x1, y1) = points[labelled].min(0), points[labelled].max(0)
    pad = max(box_margin * max(x1 - x0, y1 - y0), 0.01 * max(width, height))
    x0, y0 = max(float(x0 - pad), 0.), max(float(y0 - pad), 0.)
    x1, y1 = min(float(x1 + pad), float(width)), min(float(y1 + pad), float(height))
    keypoints = np.zeros((len(points), 3))
    keypoints[labelled, :2] = points[labelled]
    keypoints[labelled, 2] = 2
    return dict(keypoints=keypoints.ravel().tolist(), num_keypoints=int(labelled.sum()),
                bbox=[x0, y0, x1 - x0, y1 - y0], iscrowd=0)


def _coco(category: str, names: Sequence[str], links: Sequence[Tuple[int, int]],
          frames: Sequence[tuple], box_margin: float) -> dict:
    """COCO keypoints of ``frames`` [(file name, width, height, [points (K, 2)])];
    ``links`` 0-based; frames without a labelled instance are left out."""
    images, annotations = [], []
    for file_name, width, height, instances in frames:
        anns = [a for a in (instance_annotation(p, width, height, box_margin)
                            for p in instances) if a is not None]
        if not anns:
            continue
        image_id = len(images) + 1
        images.append(dict(id=image_id, file_name=file_name, width=width, height=height))
        annotations += [dict(a, id=len(annotations) + k + 1, image_id=image_id,
                             category_id=1) for k, a in enumerate(anns)]
    return dict(images=images, annotations=annotations, categories=[dict(
        id=1, name=category, keypoints=list(names),
        skeleton=[[a + 1, b + 1] for a, b in links])])


def _reorder(points: np.ndarray, node_names: Sequence[str],
             names: Sequence[str]) -> np.ndarray:
    """Points in ``node_names`` order -> ``names`` order (NaN for absent names)."""
    out = np.full((len(names), 2), np.nan)
    for i, name in enumerate(names):
        if name in node_names:
            out[i] = points[node_names.index(name)]
    return out


def _links(edges: Sequence[Tuple[str, str]], names: Sequence[str]) -> List[Tuple[int, int]]:
    """Edges between ``names`` as 0-based index pairs (others are left out)."""
    return [(names.index(a), names.index(b)) for a, b in edges if a in names and b in names]


def read_dlc_project(path: str, category: str, box_margin: float) -> dict:
    """COCO keypoints of a DeepLabCut project (``path``: its folder or config.yaml).

    Returns dict(coco, img_root=the project folder, notes=lines to print). Keypoints
    are the config's ``bodyparts`` (multi-animal: ``multianimalbodyparts``, one
    annotation per individual) in its order. Raises ValueError / FileNotFoundError
    naming the file and the fix.
    """
    config = path if path.endswith(('.yaml', '.yml')) else osp.join(path, 'config.yaml')
    project = osp.dirname(osp.abspath(config))
    layout = ('a DeepLabCut project is a folder with config.yaml and '
              'labeled-data/<video>/CollectedData_<scorer>.csv (DeepLabCut writes it when '
              'you save labelled frames)')
    if not osp.isfile(config):
        raise FileNotFoundError(f'{path}: no {config}; {layout}.')
    with open(config) as f:
        cfg = yaml.safe_load(f)
    key = 'multianimalbodyparts' if isinstance(cfg, dict) and cfg.get(
        'multianimalproject') else 'bodyparts'
    names = cfg.get(key) if isinstance(cfg, dict) else None
    if not isinstance(names, list) or not names:
        raise ValueError(f'{config}: no "{key}" list (the body parts to label); {layout}.')
    names = [str(n) for n in names]
    try:
        import sleap_io as sio  # only for DeepLabCut / SLEAP users
        labels = sio.load_dlc_project(config)
    except ValueError as err:
        raise ValueError(f'{config}: {err}; {layout}.') from err
    folders = sorted({osp.basename(osp.dirname(csv)) for csv in glob.glob(
        osp.join(project, 'labeled-data', '*', 'CollectedData_*.csv'))})
    frames_of = Counter(id(lf.video) for lf in labels.labeled_frames)
    complete = {osp.basename(osp.dirname(v.filename[0])) for v in labels.videos
                if frames_of[id(v)] == len(v.filename)}  # one image per csv row
    missing = [d for d in folders if d not in complete]
    kind = 'single-animal' if key == 'bodyparts' else 'multi-animal'
    if missing:
        raise FileNotFoundError(
            f'{config}: images listed in CollectedData_*.csv are missing from '
            f'labeled-data/{{{", ".join(missing)}}}; restore them next to the csv (as '
            'DeepLabCut extracted them).' + (
                ' (sleap-io 0.9 also reads no frame from a single-animal csv that holds '
                'only one frame: label a second frame of that video.)'
                if kind == 'single-animal' else ''))
    skeleton = labels.skeletons[0]
    frames = []
    for lf in labels.labeled_frames:
        image = lf.video.filename[lf.frame_idx]
        frames.append((osp.relpath(image, project), *_image_size(image), [
            _reorder(inst.numpy(), skeleton.node_names, names) for inst in lf.user_instances]))
    coco = _coco(category, names, _links(skeleton.edge_names, names), frames, box_margin)
    notes = [f'{config}: {len(coco["images"])} labelled images, '
             f'{len(coco["annotations"])} instances ({kind}) from '
             f'labeled-data/{{{", ".join(folders)}}}']
    other = [n for n in skeleton.node_names if n not in names]
    if other:
        notes.append(f'{config}: body parts not in "{key}" left out: {other}')
    return dict(coco=coco, img_root=project, notes=notes)


def _image_size(path: str) -> Tuple[int, int]:
    """(width, height) of an image file, from its header."""
    with Image.open(path) as image:
        return image.size


def _frame_size(video, frame_idx: int) -> Tuple[int, int]:
    """(width, height) of one frame: read from the image file of an image list, else
    the video's shape."""
    if isinstance(video.filename, list):
        return _image_size(video.filename[frame_idx])
    _, height, width, _ = video.shape
    return width, height


def read_slp(path: str, category: str, split: str, box_margin: float) -> dict:
    """COCO keypoints of a SLEAP ``.slp`` file; its frames go to ``<split>/...png``
    under the image root (written by :func:`write_frames`).

    Returns dict(coco, frames=[(LabeledFrame, file name)], flip_pairs=the skeleton's
    symmetries (index pairs), notes). Raises ValueError naming the file and the fix.
    """
    try:
        import sleap_io as sio
        labels = sio.load_slp(path)
    except (OSError, KeyError, ValueError) as err:
        raise ValueError(f'{path}: cannot read it as a SLEAP labels file ({err}).') from err
    if len(labels.skeletons) != 1:
        raise ValueError(f'{path} holds {len(labels.skeletons)} skeletons '
                         f'{[s.name for s in labels.skeletons]}; GenLoc trains one keypoint '
                         'set: save the labels of one skeleton.')
    skeleton = labels.skeletons[0]
    names = skeleton.node_names
    labelled = [lf for lf in labels.labeled_frames if lf.user_instances]
    videos = {id(lf.video): lf.video for lf in labelled}
    missing = [v.filename for v in videos.values() if not v.exists(check_all=True)]
    if missing:
        raise FileNotFoundError(
            f'{path}: the frames of {missing[:3]} are not on this machine. Put the videos '
            'at those paths, or save the labels with their frames in SLEAP (File > Export '
            "Labels Package; sleap-io: save_slp(labels, 'x.pkg.slp', embed='user')).")
    order = {key: i for i, key in enumerate(videos)}
    frames, files = [], []
    for lf in labelled:
        video = lf.video
        stem = osp.splitext(osp.basename(
            video.filename[lf.frame_idx] if isinstance(video.filename, list)
            else video.filename))[0]
        file_name = f'{split}/{order[id(video)]}-{stem}-{lf.frame_idx:06d}.png'
        width, height = _frame_size(video, lf.frame_idx)
        frames.append((file_name, width, height,
                       [inst.numpy() for inst in lf.user_instances]))
        files.append((lf, file_name))
    coco = _coco(category, names, skeleton.edge_inds, frames, box_margin)
    kept = {img['file_name'] for img in coco['images']}
    notes = [f'{path}: {len(coco["images"])} labelled frames, '
             f'{len(coco["annotations"])} instances from {len(videos)} video(s)']
    return dict(coco=coco, frames=[f for f in files if f[1] in kept], notes=notes,
                flip_pairs=[(names.index(a), names.index(b))
                            for a, b in skeleton.symmetry_names])


def write_frames(frames: Sequence[tuple], img_root: str) -> None:
    """Write each (LabeledFrame, file name) of :func:`read_slp` under ``img_root``."""
    for lf, file_name in frames:
        out = osp.join(img_root, file_name)
        os.makedirs(osp.dirname(out), exist_ok=True)
        image = lf.image
        if image.shape[-1] == 3:
            image = image[..., ::-1]  # RGB -> BGR
        if not cv2.imwrite(out, np.ascontiguousarray(image)):
            raise OSError(f'Could not write {out}.')
