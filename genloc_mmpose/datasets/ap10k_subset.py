"""AP-10K subsets: few-shot image lists (ScarceNet) and animal families (CLAMP)."""
import atexit
import json
import os.path as osp
import shutil
import tempfile
from typing import List, Optional, Sequence, Tuple, Union

from mmengine.fileio import load
from mmengine.logging import MessageHub, MMLogger
from mmpose.datasets.datasets.animal import AP10KDataset
from mmpose.registry import DATASETS

_TMP_DIRS: List[str] = []


def _remove_tmp_dirs():
    for path in _TMP_DIRS:
        shutil.rmtree(path, ignore_errors=True)


atexit.register(_remove_tmp_dirs)


@DATASETS.register_module()
class AP10KSubsetDataset(AP10KDataset):
    """AP-10K restricted to listed images and/or animal families.

    Both filters act on the COCO annotation file while MMPose loads it, so images,
    instances and ``metainfo['CLASSES']`` stay consistent:

    - ``img_ids_file``: a JSON list of image ids (e.g. ScarceNet's
      ``annotation_list_5``); only those images are kept, a repeated id counts once.
    - ``families``: AP-10K ``supercategory`` names (e.g. ``['Bovidae']``); only the
      instances of those families' species, the images holding at least one of them
      and those species' categories are kept.

    Evaluation (``test_mode=True``): the kept images, annotations (all of them, as in
    the file, also those that top-down training skips) and categories are written
    to a temporary COCO file, and that file (not ``ann_file``) is what the dataset
    announces to :class:`mmpose.evaluation.CocoMetric` through the MessageHub. So a
    ``CocoMetric`` with ``ann_file=None`` scores exactly the subset. A
    ``CocoMetric`` given the full ``ann_file`` would instead count every missing
    image of the other families as a miss.

    Args:
        img_ids_file (str, optional): JSON list of AP-10K image ids (path as is,
            not joined with ``data_root``).
        families (str | Sequence[str], optional): AP-10K supercategory names.
        **kwargs: :class:`mmpose.datasets.AP10KDataset` arguments.
    """

    def __init__(self,
                 *args,
                 img_ids_file: Optional[str] = None,
                 families: Optional[Union[str, Sequence[str]]] = None,
                 **kwargs):
        if isinstance(families, str):
            families = [families]
        self.img_ids_file = img_ids_file
        self.families = list(families) if families is not None else None
        self.subset_ann_file = None  # the filtered COCO file in test mode
        if kwargs.get('bbox_file') and self._has_filter:
            raise ValueError(f'{self.__class__.__name__} filters ground-truth '
                             'annotations; bbox_file is not supported.')
        super().__init__(*args, **kwargs)
        # BaseCocoStyleDataset.__init__ has just announced the full ann_file.
        self._announce_subset_ann_file()

    @property
    def _has_filter(self) -> bool:
        return self.img_ids_file is not None or self.families is not None

    def _read_img_ids(self) -> List[int]:
        ids = load(self.img_ids_file, file_format='json')
        if not isinstance(ids, list) or not all(
                isinstance(i, int) and not isinstance(i, bool) for i in ids):
            raise TypeError(f'{self.img_ids_file} must hold a JSON list of integer '
                            'image ids.')
        return ids

    def _load_annotations(self) -> Tuple[List[dict], List[dict]]:
        instance_list, image_list = super()._load_annotations()
        if not self._has_filter:
            return instance_list, image_list
        coco = self.coco
        all_cats = coco.loadCats(coco.getCatIds())
        keep_img_ids = {img['img_id'] for img in image_list}
        notes = []

        if self.img_ids_file is not None:
            listed = self._read_img_ids()
            unique = set(listed)
            missing = unique - set(coco.getImgIds())
            keep_img_ids &= unique
            notes.append(f'img_ids_file={self.img_ids_file} ({len(listed)} ids, '
                         f'{len(unique)} unique, {len(missing)} not in ann_file)')
            if missing:
                MMLogger.get_current_instance().warning(
                    f'{len(missing)} image ids of {self.img_ids_file} are not in '
                    f'{self.ann_file}, e.g. {sorted(missing)[:5]}')

        keep_cats = all_cats
        if self.families is not None:
            known = {cat['supercategory'] for cat in all_cats}
            unknown = [f for f in self.families if f not in known]
            if unknown:
                raise ValueError(f'Unknown AP-10K families {unknown}; the file has '
                                 f'{sorted(known)}.')
            keep_cats = [c for c in all_cats if c['supercategory'] in self.families]
            cat_ids = {c['id'] for c in keep_cats}
            family_imgs = {
                ann['image_id']
                for ann in coco.dataset['annotations'] if ann['category_id'] in cat_ids
            }
            keep_img_ids &= family_imgs
            notes.append(f'families={self.families} -> '
                         f'{[c["name"] for c in keep_cats]}')
        keep_cat_ids = {c['id'] for c in keep_cats}

        num_instances = len(instance_list)
        num_images = len(image_list)
        instance_list = [
            inst for inst in instance_list if inst['img_id'] in keep_img_ids
            and int(inst['category_id']) in keep_cat_ids
        ]
        image_list = [img for img in image_list if img['img_id'] in keep_img_ids]
        if not instance_list:
            raise ValueError(f'{self.__class__.__name__}: no instance of '
                             f'{self.ann_file} is left ({"; ".join(notes)}).')
        self._metainfo['CLASSES'] = keep_cats

        num_valid = sum(map(self._is_valid_instance, instance_list))
        MMLogger.get_current_instance().info(
            f'{self.__class__.__name__}: kept {len(image_list)}/{num_images} images '
            f'and {len(instance_list)}/{num_instances} instances '
            f'({num_valid} usable in top-down) of {self.ann_file}; '
            + '; '.join(notes))

        if self.test_mode:
            self._write_subset_ann_file(coco, keep_img_ids, keep_cats)
        return instance_list, image_list

    def _write_subset_ann_file(self, coco, keep_img_ids, keep_cats):
        keep_cat_ids = {c['id'] for c in keep_cats}
        # `_load_annotations` added img_id/img_path to the image dicts: drop them.
        images = [{
            k: v
            for k, v in img.items() if k not in ('img_id', 'img_path')
        } for img in coco.dataset['images'] if img['id'] in keep_img_ids]
        annotations = [
            ann for ann in coco.dataset['annotations']
            if ann['image_id'] in keep_img_ids and ann['category_id'] in keep_cat_ids
        ]
        subset = {k: v for k, v in coco.dataset.items()
                  if k not in ('images', 'annotations', 'categories')}
        subset.update(images=images, annotations=annotations, categories=keep_cats)
        tmp_dir = tempfile.mkdtemp(prefix='genloc_ap10k_subset_')
        _TMP_DIRS.append(tmp_dir)
        self.subset_ann_file = osp.join(tmp_dir, osp.basename(self.ann_file))
        with open(self.subset_ann_file, 'w') as f:
            json.dump(subset, f)
        self._announce_subset_ann_file()

    def _announce_subset_ann_file(self):
        """Point CocoMetric(ann_file=None) to the subset (see class doc)."""
        if self.test_mode and self.subset_ann_file is not None:
            MessageHub.get_current_instance().update_info_dict(
                {f'{self.metainfo["dataset_name"]}_ann_file': self.subset_ann_file})
