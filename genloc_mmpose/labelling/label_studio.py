"""Label Studio's keypoint format and GenLoc's: the labelling config of a keypoint set,
predictions as Label Studio regions, a project's annotations as COCO keypoints.

Label Studio places a ``KeyPointLabels`` point at ``x``, ``y`` in percent of the
image's width and height (``original_width`` / ``original_height``); a keypoint at
pixel ``(px, py)`` of a W x H image is ``(100 px / W, 100 py / H)``, both ways. The
keypoints of one object hang under its ``RectangleLabels`` box (``parentID``: the
box's region id), as Label Studio's own YOLO-pose backend groups them.
"""
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence
from xml.sax.saxutils import quoteattr

import numpy as np

POINT_WIDTH = 0.75  # the drawn point's width, percent of the image width


def _hex(rgb: Sequence[int]) -> str:
    return '#{:02x}{:02x}{:02x}'.format(*(int(c) for c in rgb))


def labelling_config(names: Sequence[str], colours: Sequence[Sequence[int]],
                     object_name: str = 'object', image: str = 'image',
                     keypoints: str = 'keypoints') -> str:
    """Label Studio's labelling config (XML) of a keypoint set: an ``Image`` (task data
    ``$image``), a ``RectangleLabels`` box per object (``<keypoints>_bbox``, one label:
    ``object_name``) and a ``KeyPointLabels`` label per name, in the dataset's RGB
    ``colours`` (K, 3)."""
    if len(colours) != len(names):
        raise ValueError(f'{len(names)} keypoint names but {len(colours)} colours.')
    labels = '\n'.join(f'    <Label value={quoteattr(n)} background="{_hex(c)}"/>'
                       for n, c in zip(names, colours))
    return (f'<View>\n'
            f'  <Image name={quoteattr(image)} value="${image}" zoom="true" '
            f'zoomControl="true"/>\n'
            f'  <RectangleLabels name={quoteattr(keypoints + "_bbox")} toName={quoteattr(image)}'
            f' strokeWidth="2">\n'
            f'    <Label value={quoteattr(object_name)} background="#808080"/>\n'
            f'  </RectangleLabels>\n'
            f'  <KeyPointLabels name={quoteattr(keypoints)} toName={quoteattr(image)} '
            f'strokeWidth="2" smart="false">\n{labels}\n'
            f'  </KeyPointLabels>\n'
            f'</View>\n')


def config_from_meta(dataset_meta: dict, object_name: Optional[str] = None) -> str:
    """:func:`labelling_config` of an MMPose ``dataset_meta`` (a checkpoint's, or
    ``parse_pose_metainfo`` of a dataset's metainfo file)."""
    num = dataset_meta['num_keypoints']
    names = [dataset_meta['keypoint_id2name'][i] for i in range(num)]
    colours = np.asarray(dataset_meta.get('keypoint_colors', np.zeros((num, 3))))
    return labelling_config(names, colours.reshape(num, 3).tolist(),
                            object_name or dataset_meta.get('dataset_name') or 'object')


@dataclass
class LabellingConfig:
    """The tags GenLoc reads and writes in a project's labelling config: the image
    (``image_key``: the task data field), the keypoint tag and its label names, the
    box tag (None: keypoints are not grouped) and its first label."""
    image: str
    image_key: str
    keypoints: str
    names: List[str]
    boxes: Optional[str] = None
    box_label: Optional[str] = None

    @classmethod
    def parse(cls, xml: str) -> 'LabellingConfig':
        """Raises ValueError naming what is missing."""
        try:
            root = ET.fromstring(xml)
        except ET.ParseError as e:
            raise ValueError(f'The labelling config is not XML: {e}') from None
        points = root.find('.//KeyPointLabels')
        if points is None:
            raise ValueError('The labelling config has no <KeyPointLabels>: GenLoc predicts '
                             'keypoints (write one with `genloc-label-studio config`).')
        to_name = points.get('toName')
        image = next((t for t in root.iter('Image') if t.get('name') == to_name), None)
        if image is None or not (image.get('value') or '').startswith('$'):
            raise ValueError(f'<KeyPointLabels name="{points.get("name")}"> points to '
                             f'toName="{to_name}": no <Image name="{to_name}" '
                             'value="$field"> in the labelling config.')
        names = [label.get('value') for label in points.iter('Label')]
        box = next((t for t in root.iter('RectangleLabels') if t.get('toName') == to_name),
                   None)
        box_labels = [] if box is None else [label.get('value') for label in box.iter('Label')]
        return cls(image=to_name, image_key=image.get('value')[1:],
                   keypoints=points.get('name'), names=names,
                   boxes=None if box is None else box.get('name'),
                   box_label=box_labels[0] if box_labels else None)


def to_results(config: LabellingConfig, names: Sequence[str], keypoints: np.ndarray,
               scores: np.ndarray, bboxes: np.ndarray, width: int, height: int,
               score_thr: float, prefix: str = 'genloc') -> List[dict]:
    """Label Studio result regions of N predicted objects: keypoints (N, K, 2) in image
    pixels, scores (N, K), bboxes (N, 4) x1, y1, x2, y2. The model's keypoints ``names``
    go to the project's labels of the same name (others are left out); points scoring
    under ``score_thr`` are left for the annotator."""
    wanted = set(config.names)
    results = []
    for n, (kpts, kpt_scores, box) in enumerate(zip(keypoints, scores, bboxes)):
        common = dict(to_name=config.image, original_width=int(width),
                      original_height=int(height), image_rotation=0)
        parent = None
        if config.boxes and config.box_label:
            parent = f'{prefix}-{n}'
            x1, y1, x2, y2 = (float(v) for v in box)
            results.append(dict(
                common, id=parent, from_name=config.boxes, type='rectanglelabels',
                score=float(np.mean(kpt_scores)),
                value=dict(x=100 * x1 / width, y=100 * y1 / height,
                           width=100 * (x2 - x1) / width, height=100 * (y2 - y1) / height,
                           rotation=0, rectanglelabels=[config.box_label])))
        for k, name in enumerate(names):
            if name not in wanted or kpt_scores[k] < score_thr:
                continue
            region = dict(
                common, id=f'{prefix}-{n}-{k}', from_name=config.keypoints,
                type='keypointlabels', score=float(kpt_scores[k]),
                value=dict(x=100 * float(kpts[k, 0]) / width,
                           y=100 * float(kpts[k, 1]) / height,
                           width=POINT_WIDTH, keypointlabels=[name]))
            if parent:
                region['parentID'] = parent
            results.append(region)
    return results


def latest_annotation(task: dict) -> Optional[dict]:
    """The task's newest annotation that was submitted (not skipped), or None."""
    kept = [a for a in task.get('annotations') or [] if not a.get('was_cancelled')]
    return max(kept, key=lambda a: (a.get('updated_at') or '', a.get('id') or 0),
               default=None)


def objects(config: LabellingConfig, annotation: dict) -> List[Dict]:
    """The labelled objects of an annotation: ``{'box': [x1, y1, x2, y2] or None,
    'keypoints': {name: (x, y)}}`` in image pixels, plus ``'size': (W, H)``. Points
    grouped under a box (``parentID``) are that box's; the others belong to the only
    box when there is one, else to one object of the whole image."""
    boxes, points, size = {}, [], None
    for region in annotation.get('result') or []:
        if 'original_width' in region:
            size = (region['original_width'], region['original_height'])
        value = region.get('value') or {}
        if region.get('from_name') == config.boxes and region.get('type') == 'rectanglelabels':
            boxes[region.get('id')] = value
        elif region.get('from_name') == config.keypoints and value.get('keypointlabels'):
            points.append(region)
    if size is None:
        return []
    w, h = size
    found = {rid: dict(box=[v['x'] * w / 100, v['y'] * h / 100,
                            (v['x'] + v['width']) * w / 100,
                            (v['y'] + v['height']) * h / 100], keypoints={}, size=size)
             for rid, v in boxes.items()}
    loose = dict(box=None, keypoints={}, size=size)
    for region in points:
        value = region['value']
        owner = found.get(region.get('parentID'))
        if owner is None:
            owner = next(iter(found.values())) if len(found) == 1 else loose
        owner['keypoints'][value['keypointlabels'][0]] = (value['x'] * w / 100,
                                                          value['y'] * h / 100)
    return [o for o in [*found.values(), loose] if o['keypoints']]


def to_coco(config: LabellingConfig, tasks: Sequence[dict], image_files: Dict[int, str],
            object_name: str) -> dict:
    """COCO keypoints of the tasks' newest annotations (:func:`objects`): a labelled
    point v=2, a keypoint left out v=0; an object without a box gets the whole image
    (the app's Teach rule). ``image_files``: task id -> the image's file name."""
    names = config.names
    images, annotations = [], []
    for task in tasks:
        annotation = latest_annotation(task)
        found = objects(config, annotation) if annotation else []
        if not found:
            continue
        w, h = found[0]['size']
        images.append(dict(id=task['id'], file_name=image_files[task['id']], width=w,
                           height=h))
        for obj in found:
            kpts = np.zeros((len(names), 3))
            for name, (x, y) in obj['keypoints'].items():
                if name in names:
                    kpts[names.index(name)] = (x, y, 2)
            x1, y1, x2, y2 = obj['box'] or (0, 0, w, h)
            annotations.append(dict(
                id=len(annotations) + 1, image_id=task['id'], category_id=1, iscrowd=0,
                keypoints=[float(v) if j % 3 < 2 else int(v)
                           for j, v in enumerate(kpts.ravel())],
                num_keypoints=int((kpts[:, 2] > 0).sum()), bbox=[x1, y1, x2 - x1, y2 - y1],
                area=(x2 - x1) * (y2 - y1)))
    return dict(images=images, annotations=annotations,
                categories=[dict(id=1, name=object_name, supercategory=object_name,
                                 keypoints=list(names), skeleton=[])])
