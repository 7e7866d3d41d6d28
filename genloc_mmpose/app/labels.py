"""The Teach tab's labels: keypoint names, images, clicked keypoints and boxes, in and
out as a COCO keypoints json (the format CVAT and Label Studio import and export, and
``tools/new_keypoints.py`` reads). One labelled object per image."""
import functools
import os
import os.path as osp
import shutil
from dataclasses import dataclass
from typing import List, Optional, Sequence, Tuple

import cv2
import numpy as np

from ..datasets.keypoint_metainfo import palette, read_coco_keypoints, skeleton_links
from ..keypoint_names import infer_flip_pairs

MIN_IMAGES = 3  # labelled images needed to train
# v of a keypoint: COCO's (2 visible, 1 labelled but occluded, 0 not labelled) and -1
# for not labelled yet; 0 is then "marked not visible"
UNLABELLED, NOT_VISIBLE, VISIBLE = -1, 0, 2


def parse_names(text: str) -> List[str]:
    """Keypoint names, one per line or comma-separated; blanks dropped. Raises
    ValueError for duplicates."""
    names = [n.strip() for line in text.splitlines() for n in line.split(',')]
    names = [n for n in names if n]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ValueError(f'Keypoint names must be unique: {duplicates} appear twice.')
    return names


def parse_skeleton(text: str, names: Sequence[str]) -> List[Tuple[int, int]]:
    """Links ``"a-b"`` between keypoint names, one per line or comma-separated
    (names may hold ``-`` themselves: the split that gives two names is used)
    -> 0-based index pairs. Raises ValueError naming a link that is not two names."""
    links = []
    for item in (s.strip() for line in text.splitlines() for s in line.split(',')):
        if not item:
            continue
        splits = [(item[:i].strip(), item[i + 1:].strip())
                  for i, c in enumerate(item) if c == '-']
        pair = next(((a, b) for a, b in splits if a in names and b in names and a != b),
                    None)
        if pair is None:
            raise ValueError(f'Skeleton link {item!r} is not "name-name" of two '
                             f'different keypoint names (the names: {list(names)}).')
        links.append((names.index(pair[0]), names.index(pair[1])))
    return links


@functools.lru_cache(maxsize=8)
def _colours(names: Tuple[str, ...]) -> list:
    """One colour per keypoint, mirror pairs alike (the pairs inferred once per
    keypoint set: unpaired sided names are reported once, not at every redraw)."""
    return palette(len(names), infer_flip_pairs(list(names)))


@dataclass
class LabelledImage:
    """An image and its object's labels: keypoints (K, 3) x, y, v in image pixels
    (v: 2 clicked, 1 occluded (from a COCO json), 0 marked not visible, -1 not labelled
    yet) and the box x1, y1, x2, y2 (None: the whole image)."""
    path: str
    width: int
    height: int
    keypoints: np.ndarray
    box: Optional[List[float]] = None

    @property
    def bbox(self) -> List[float]:
        return self.box or [0.0, 0.0, float(self.width), float(self.height)]

    @property
    def num_done(self) -> int:
        return int((self.keypoints[:, 2] != UNLABELLED).sum())

    @property
    def num_visible(self) -> int:
        return int((self.keypoints[:, 2] > NOT_VISIBLE).sum())


class LabelSet:
    """Names, images and labels of one browser session, and the cursor: the current
    image and keypoint, and a box being drawn (two clicks: opposite corners)."""

    def __init__(self):
        self.object_name = 'object'
        self.names: List[str] = []
        self.skeleton: List[Tuple[int, int]] = []
        self.images: List[LabelledImage] = []
        self.current = 0
        self.keypoint = 0
        self.drawing_box = False
        self.corner: Optional[Tuple[int, int]] = None
        self._imported = {}  # file name -> (keypoints (K, 3), box) from a COCO json

    # -- set up --------------------------------------------------------------
    def set_keypoints(self, object_name: str, names: Sequence[str],
                      skeleton: Sequence[Tuple[int, int]]) -> str:
        """Set the object, its keypoint names and skeleton; labels are kept when the
        names are unchanged, else cleared."""
        if not names:
            raise ValueError('Type the keypoint names first (one per line or '
                             'comma-separated), or load a COCO keypoints json.')
        self.object_name = object_name.strip() or 'object'
        kept = list(names) == self.names
        self.names, self.skeleton = list(names), list(skeleton)
        if not kept:
            for image in self.images:
                image.keypoints = self._blank()
            self._imported = {}
        self.keypoint = 0
        return (f'{len(names)} keypoints of "{self.object_name}", {len(skeleton)} skeleton '
                f'links' + ('' if kept or not self.images else '; labels cleared'))

    def _blank(self) -> np.ndarray:
        kpts = np.zeros((len(self.names), 3), np.float64)
        kpts[:, 2] = UNLABELLED
        return kpts

    def add_images(self, paths: Sequence[str], folder: str) -> str:
        """Copy images into ``folder`` (names made unique); files that are not images
        are refused by name. Returns a message."""
        if not self.names:
            raise ValueError('Set the keypoint names first, then add images.')
        os.makedirs(folder, exist_ok=True)
        added, refused = [], []
        for path in paths:
            image = cv2.imread(path)
            if image is None:
                refused.append(osp.basename(path))
                continue
            name = osp.basename(path)
            stem, ext = osp.splitext(name)
            taken = {osp.basename(i.path) for i in self.images}
            count = 1
            while name in taken:
                name, count = f'{stem}_{count}{ext}', count + 1
            dest = osp.join(folder, name)
            shutil.copyfile(path, dest)
            item = LabelledImage(dest, image.shape[1], image.shape[0], self._blank())
            if name in self._imported:
                item.keypoints, item.box = self._imported[name]
            self.images.append(item)
            added.append(name)
        if refused:
            raise ValueError(f'Not images (JPEG, PNG, ...): {refused}. '
                             + (f'Added {added}.' if added else 'Nothing added.'))
        return f'Added {len(added)} images: {added}'

    def load_coco(self, path: str) -> str:
        """Names, skeleton, object and labels (the first object of each image, matched
        to the images by file name) from a COCO keypoints json."""
        data = read_coco_keypoints(path)
        names = data['names']
        self.set_keypoints(data['categories'][0] if len(data['categories']) == 1 else
                           'object', names, skeleton_links(data['skeleton'], names, path))
        files = {img['id']: osp.basename(img['file_name']) for img in data['coco']['images']}
        dropped = 0
        for ann in data['coco']['annotations']:
            name = files.get(ann['image_id'])
            if name is None or name in self._imported:
                dropped += name is not None
                continue
            kpts = np.array(ann['keypoints'], np.float64).reshape(-1, 3)
            kpts[kpts[:, 2] <= 0] = NOT_VISIBLE  # COCO's v, unlabelled ones as marked
            x, y, w, h = ann['bbox']
            self._imported[name] = (kpts, [x, y, x + w, y + h])
        for image in self.images:
            if osp.basename(image.path) in self._imported:
                image.keypoints, image.box = self._imported[osp.basename(image.path)]
        return (f'{len(names)} keypoints of "{self.object_name}", labels of '
                f'{len(self._imported)} images' +
                (f' ({dropped} further objects dropped: one object per image)'
                 if dropped else ''))

    # -- labelling ------------------------------------------------------------
    def _image(self) -> LabelledImage:
        if not self.images:
            raise ValueError('Add images first.')
        return self.images[self.current]

    def click(self, x: int, y: int) -> None:
        """A click at image pixel (x, y): a box corner while drawing a box, else the
        current keypoint (then the next unlabelled one is current)."""
        image = self._image()
        if self.drawing_box:
            if self.corner is None:
                self.corner = (x, y)
                return
            (x0, y0), self.corner, self.drawing_box = self.corner, None, False
            if abs(x - x0) < 1 or abs(y - y0) < 1:
                raise ValueError('The two corners of a box must differ in x and y.')
            image.box = [float(min(x0, x)), float(min(y0, y)),
                         float(max(x0, x)), float(max(y0, y))]
            return
        image.keypoints[self.keypoint] = (x, y, VISIBLE)
        self._advance()

    def not_visible(self) -> None:
        """Mark the current keypoint not visible (COCO v=0) and go to the next one."""
        self._image().keypoints[self.keypoint] = (0, 0, NOT_VISIBLE)
        self._advance()

    def clear_keypoint(self) -> None:
        self._image().keypoints[self.keypoint] = (0, 0, UNLABELLED)

    def _advance(self) -> None:
        todo = np.flatnonzero(self._image().keypoints[:, 2] == UNLABELLED)
        later = todo[todo > self.keypoint]
        self.keypoint = int(later[0] if len(later) else todo[0] if len(todo)
                            else self.keypoint)

    def start_box(self) -> None:
        self._image()
        self.drawing_box, self.corner = True, None

    def whole_image(self) -> None:
        self._image().box = None
        self.drawing_box, self.corner = False, None

    def go(self, step: int) -> None:
        """Move to the image ``step`` away, on its first unlabelled keypoint."""
        self._image()
        self.current = (self.current + step) % len(self.images)
        self.drawing_box, self.corner = False, None
        todo = np.flatnonzero(self._image().keypoints[:, 2] == UNLABELLED)
        self.keypoint = int(todo[0]) if len(todo) else 0

    def select_keypoint(self, name: str) -> None:
        if name in self.names:
            self.keypoint = self.names.index(name)

    # -- views ----------------------------------------------------------------
    def status(self) -> str:
        """One line: where the cursor is and what the next click does."""
        if not self.names:
            return 'Set the object and its keypoint names (or load a COCO json).'
        if not self.images:
            return f'{len(self.names)} keypoints. Add images of the {self.object_name}.'
        image = self._image()
        labelled = sum(i.num_visible > 0 for i in self.images)
        where = (f'Image {self.current + 1}/{len(self.images)} '
                 f'({osp.basename(image.path)}): {image.num_done}/{len(self.names)} '
                 f'keypoints done; labelled images: {labelled}.')
        if self.drawing_box:
            return where + (' Click the opposite corner of the box.' if self.corner
                            else ' Click one corner of the box.')
        if image.num_done == len(self.names):
            return where + (f' All done: Next image (a click moves '
                            f'**{self.names[self.keypoint]}**).')
        return where + f' Click: **{self.names[self.keypoint]}**.'

    def view(self) -> Optional[np.ndarray]:
        """The current image (RGB, its own size: clicks are image pixels) with its
        box, skeleton, labelled keypoints and a pending box corner drawn."""
        if not self.images:
            return None
        image = self._image()
        canvas = cv2.imread(image.path)[..., ::-1].copy()
        size = max(canvas.shape[:2])
        radius, thick, font = max(4, size // 100), max(1, size // 400), max(0.5, size / 1200)
        colours = _colours(tuple(self.names))
        x1, y1, x2, y2 = (int(round(v)) for v in image.bbox)
        cv2.rectangle(canvas, (x1, y1), (x2 - 1, y2 - 1), (0, 255, 0), thick)
        kpts = image.keypoints
        for a, b in self.skeleton:
            if kpts[a, 2] > NOT_VISIBLE and kpts[b, 2] > NOT_VISIBLE:
                cv2.line(canvas, tuple(int(v) for v in kpts[a, :2]),
                         tuple(int(v) for v in kpts[b, :2]), colours[b], thick, cv2.LINE_AA)
        for k, (x, y, v) in enumerate(kpts):
            if v > NOT_VISIBLE:
                centre = (int(x), int(y))
                cv2.circle(canvas, centre, radius, colours[k], -1, cv2.LINE_AA)
                cv2.circle(canvas, centre, radius, (255, 255, 255), 1, cv2.LINE_AA)
                for colour, width in (((0, 0, 0), thick + 2), ((255, 255, 255), thick)):
                    cv2.putText(canvas, self.names[k], (centre[0] + radius + 2, centre[1]),
                                cv2.FONT_HERSHEY_SIMPLEX, font, colour, width, cv2.LINE_AA)
        if self.corner is not None:
            cv2.drawMarker(canvas, self.corner, (0, 255, 0), cv2.MARKER_CROSS, 4 * radius,
                           thick)
        return canvas

    # -- out ------------------------------------------------------------------
    def labelled(self) -> List[LabelledImage]:
        """Images with at least one clicked keypoint."""
        return [i for i in self.images if i.num_visible > 0]

    def check_trainable(self) -> None:
        """Raise ValueError unless there are at least ``MIN_IMAGES`` labelled images."""
        count = len(self.labelled())
        if count < MIN_IMAGES:
            raise ValueError(
                f'Too few labelled images to train: {count}, at least {MIN_IMAGES} are '
                f'needed (an image counts once a keypoint is clicked on it). Label '
                f'{MIN_IMAGES - count} more.')

    def to_coco(self) -> dict:
        """COCO keypoints: every image, one object per image with a labelled keypoint
        (v=2 clicked, 1 occluded, 0 not visible or not labelled), the box as x, y, w, h
        (area w * h) and the 1-based skeleton."""
        images, annotations = [], []
        for i, image in enumerate(self.images, 1):
            images.append(dict(id=i, file_name=osp.basename(image.path),
                               width=image.width, height=image.height))
            if not image.num_visible:
                continue
            kpts = image.keypoints.copy()
            kpts[kpts[:, 2] <= NOT_VISIBLE] = 0
            x1, y1, x2, y2 = image.bbox
            annotations.append(dict(
                id=len(annotations) + 1, image_id=i, category_id=1, iscrowd=0,
                keypoints=[float(v) if j % 3 < 2 else int(v)
                           for j, v in enumerate(kpts.ravel())],
                num_keypoints=image.num_visible, bbox=[x1, y1, x2 - x1, y2 - y1],
                area=(x2 - x1) * (y2 - y1)))
        return dict(
            images=images, annotations=annotations,
            categories=[dict(id=1, name=self.object_name, supercategory=self.object_name,
                             keypoints=list(self.names),
                             skeleton=[[a + 1, b + 1] for a, b in self.skeleton])])
