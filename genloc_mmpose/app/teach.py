"""Training from the Teach tab: the path of ``genloc-new-keypoints``
(:func:`genloc_mmpose.custom_keypoints.new_keypoint_config`) and ``genloc-train``
(``python -m genloc_mmpose.launcher train.py``), in a background process whose
progress and loss are read from MMEngine's
``vis_data/scalars.json``."""
import glob
import json
import math
import os
import os.path as osp
import re
import subprocess
import sys
from typing import List, Optional, Tuple, Union

from mmengine.config import Config

from ..custom_keypoints import new_keypoint_config, served_recipe
from .labels import LabelSet

TRAIN_COMMAND = [sys.executable, '-m', 'genloc_mmpose.launcher', 'train.py']
LOG_POINTS = 200  # about this many loss points per run (the logger interval)


def dataset_name(object_name: str) -> str:
    """A NAME for new_keypoint_config from the object's name (``"sea turtle"`` ->
    ``sea_turtle``)."""
    name = re.sub(r'[^A-Za-z0-9_-]+', '_', object_name).strip('_-')
    return name if name[:1].isalnum() else f'object{name}'


def teach_recipe(config: str) -> Tuple[Union[str, dict], str]:
    """The recipe Teach trains with for the model of ``config`` and its description:
    the served model's own (:func:`served_recipe`: its prior, input size and iteration
    budget) when its schedule is iteration-based, else the ``'tiny'`` CPU recipe
    (random weights; an SD-1.5 recipe does not finish on a CPU)."""
    try:
        recipe = served_recipe(config)
    except ValueError:
        return 'tiny', 'the tiny CPU recipe (random weights; the served model trains by epochs)'
    prior = recipe['weights'] or 'random weights'
    return recipe, f"the served model's ({recipe['schedule']}, prior: {prior})"


class TrainJob:
    """Writes the labels, the metainfo and the config (``recipe``, a name in
    ``custom_keypoints.ARCHS`` or a recipe dict) under ``folder`` and starts
    ``genloc-train`` on them (in the working directory).

    Args:
        train (dict): COCO keypoints to train on (one category), images under
            ``image_dir``.
        image_dir (str): The images' folder.
        object_name (str): What the keypoints are of (names the dataset).
        folder (str): A new folder for this run (labels.json, configs/, work/,
            train.log).
        epochs (int, optional): Training length; None: the recipe's default.
        device (str): ``'cpu'`` hides GPUs from the training process.
        recipe (str | dict): what to train (:func:`teach_recipe`).
        val (dict, optional): COCO keypoints to validate on; default ``train``.
        random_weights (bool): the recipe's architecture with random frozen weights
            instead of its prior.
    """

    def __init__(self, train: dict, image_dir: str, object_name: str, folder: str,
                 epochs: Optional[int] = None, device: str = 'cpu',
                 recipe: Union[str, dict] = 'tiny', val: Optional[dict] = None,
                 random_weights: bool = False):
        os.makedirs(folder)
        self.folder = folder
        self.labels_file = osp.join(folder, 'labels.json')
        with open(self.labels_file, 'w') as f:
            json.dump(train, f)
        val_file = self.labels_file
        if val is not None:
            val_file = osp.join(folder, 'val.json')
            with open(val_file, 'w') as f:
                json.dump(val, f)
        self.name = dataset_name(object_name)
        self.config, self.report = new_keypoint_config(
            self.name, self.labels_file, val_file, image_dir, arch=recipe, epochs=epochs,
            out_dir=osp.join(folder, 'configs'), object_name=object_name,
            random_weights=random_weights)
        cfg = Config.fromfile(self.config)
        loop = cfg.train_cfg
        self.total = loop.get('max_iters') or loop.max_epochs * math.ceil(
            len({a['image_id'] for a in train['annotations']})
            / cfg.train_dataloader.batch_size)
        self.work_dir = osp.join(folder, 'work')
        env = dict(os.environ, PYTHONUNBUFFERED='1')
        if device == 'cpu':
            env['CUDA_VISIBLE_DEVICES'] = ''
        self.log_file = osp.join(folder, 'train.log')
        with open(self.log_file, 'w') as log:
            self.proc = subprocess.Popen(
                [*TRAIN_COMMAND, self.config, '--work-dir', self.work_dir,
                 '--cfg-options',
                 f'default_hooks.logger.interval={max(1, self.total // LOG_POINTS)}'],
                env=env, stdout=log, stderr=subprocess.STDOUT)
        self.cancelled = False

    @classmethod
    def from_labels(cls, labels: LabelSet, folder: str, **kwargs) -> 'TrainJob':
        """A job on the Teach tab's labels (at least ``MIN_IMAGES`` labelled, else
        ValueError); ``kwargs`` as the constructor's."""
        labels.check_trainable()
        return cls(labels.to_coco(), osp.dirname(labels.images[0].path), labels.object_name, folder,
                   **kwargs)

    @property
    def state(self) -> str:
        """``'running'``, ``'done'``, ``'failed'`` or ``'cancelled'``."""
        code = self.proc.poll()
        if code is None:
            return 'running'
        if self.cancelled:
            return 'cancelled'
        return 'done' if code == 0 and self.checkpoint() else 'failed'

    def cancel(self) -> None:
        """Stop the training process (this job's own child)."""
        if self.proc.poll() is None:
            self.cancelled = True
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def losses(self) -> List[Tuple[int, float]]:
        """(iteration, loss) as logged so far."""
        points = []
        for path in glob.glob(osp.join(self.work_dir, '*', 'vis_data', 'scalars.json')):
            with open(path) as f:
                for line in f:
                    try:
                        row = json.loads(line)
                    except json.JSONDecodeError:  # a line being written
                        continue
                    if 'loss' in row:
                        points.append((int(row['step']), float(row['loss'])))
        return sorted(points)

    def checkpoint(self) -> Optional[str]:
        """The last saved checkpoint (MMEngine's ``last_checkpoint``), or None."""
        try:
            with open(osp.join(self.work_dir, 'last_checkpoint')) as f:
                path = f.read().strip()
        except OSError:
            return None
        return path if osp.isfile(path) else None

    def error(self, lines: int = 25) -> str:
        """The end of the training log (the traceback of a failed run)."""
        with open(self.log_file, errors='replace') as f:
            return ''.join(f.readlines()[-lines:])

    def model_files(self) -> List[str]:
        """For download: the labels, a self-contained config (recipe merged, metainfo
        inline; data paths point into this run's folder) and the checkpoint."""
        cfg = Config.fromfile(self.config)
        meta = Config.fromfile(osp.join(osp.dirname(self.config), '_base_', 'datasets',
                                        f'{self.name}.py')).dataset_info
        for key in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
            cfg[key].dataset.metainfo = meta
        config = osp.join(self.folder, osp.basename(self.config))
        cfg.dump(config)
        return [self.labels_file, config, self.checkpoint()]
