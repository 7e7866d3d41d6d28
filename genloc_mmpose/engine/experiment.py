"""One experiment in this process: MMEngine's ``Runner`` trains a config and tests it,
as ``tools/train.py`` and ``tools/test.py`` would one after the other. The mini-SD
experiments (:mod:`genloc_mmpose.mini_sd.experiments`) and the synthetic ablation
(:mod:`genloc_mmpose.synthetic.ablation`) both run through :func:`train_and_test`."""
import os.path as osp
import time
from typing import Iterable, Optional

from mmengine.config import Config
from mmengine.hooks import Hook


class _Record(Hook):
    """Keeps the last validation's metrics and the last training loss."""

    def __init__(self):
        self.val: Optional[dict] = None
        self.loss: Optional[float] = None

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
        self.loss = float(outputs['loss'])

    def after_val_epoch(self, runner, metrics=None):
        self.val = _floats(metrics)


def _floats(metrics: dict) -> dict:
    """``{'coco/AP': np.float64(0.9)}`` -> ``{'AP': 0.9}``."""
    return {k.split('/')[-1]: float(v) for k, v in (metrics or {}).items()}


def train_and_test(cfg: Config, work_dir: str, name: str, train: bool = True,
                   hooks: Iterable[Hook] = ()) -> dict:
    """Train ``cfg`` (unless ``train`` is False) in ``work_dir``, then test the
    trained model, in this process. ``hooks``: more hooks (priority LOW). Returns
    ``test`` (the test metrics, short keys: ``AP``, ``PCK``...), ``val`` (the last
    validation's, None if none ran), ``loss`` (the last training loss), ``train_s``,
    ``test_s``, ``config`` (the config as run, dumped into ``work_dir``) and
    ``checkpoint`` (the last one saved, None without training)."""
    from mmengine.runner import Runner
    cfg.work_dir = work_dir
    cfg.experiment_name = name
    cfg.visualizer.name = f'visualizer_{name}'  # one visualizer instance per run
    runner = Runner.from_cfg(cfg)
    record = _Record()
    for hook in (record, *hooks):
        runner.register_hook(hook, 'LOW')
    start = time.time()
    if train:
        runner.train()
    train_s = time.time() - start
    metrics = runner.test()
    test_s = time.time() - start - train_s
    config = osp.join(work_dir, osp.basename(cfg.filename or f'{name}.py'))
    cfg.dump(config)
    last = osp.join(work_dir, 'last_checkpoint')
    checkpoint = None
    if train and osp.isfile(last):
        with open(last) as f:
            checkpoint = f.read().strip()
    return dict(test=_floats(metrics), val=record.val, loss=record.loss,
                train_s=round(train_s, 1), test_s=round(test_s, 1), config=config,
                checkpoint=checkpoint)
