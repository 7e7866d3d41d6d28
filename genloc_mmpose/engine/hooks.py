"""Training never writes non-finite weights: a non-finite loss stops (or skips) the
step before the optimizer sees it, and no checkpoint with a non-finite tensor is
saved."""
import math
import os.path as osp
from typing import Optional

import torch
from mmengine.dist import all_reduce, get_world_size
from mmengine.hooks import Hook
from mmengine.logging import print_log
from mmpose.registry import HOOKS

ON_INVALID = ('raise', 'skip')


class InvalidLossError(RuntimeError):
    """A non-finite training loss; the message says where and what to resume from."""


@HOOKS.register_module()
class InvalidLossHook(Hook):
    """mmdet's ``CheckInvalidLossHook``, checked before the update (built on
    MMEngine's ``Hook``: importing mmdet's hooks costs a second at every start).

    The check runs on the loss of every iteration inside the optimizer wrapper's
    ``update_params``, before ``backward``: a non-finite loss never reaches the
    weights, in memory or in a checkpoint. mmdet's check after the iteration
    (``interval``) stays as a backstop, and ``before_save_checkpoint`` refuses a
    checkpoint holding a non-finite tensor. Under DDP the ranks decide together
    (one all-reduce of a flag), so they stop or skip as one.

    Args:
        interval (int): mmdet's after-iteration check interval. Defaults to 1.
        on_invalid (str): ``'raise'``: stop with :class:`InvalidLossError` naming
            the iteration, the loss terms and the last good checkpoint (what
            ``--resume`` continues from). ``'skip'``: drop that iteration's
            gradient, log a warning with the count of skipped iterations, and stop
            after ``max_skips`` in a row.
        max_skips (int): Consecutive skipped iterations before stopping.
    """

    priority = 'VERY_HIGH'

    def __init__(self, interval: int = 1, on_invalid: str = 'raise', max_skips: int = 10):
        self.interval = interval
        if on_invalid not in ON_INVALID:
            raise ValueError(f'InvalidLossHook on_invalid must be one of {ON_INVALID}, '
                             f'got {on_invalid!r}')
        self.on_invalid = on_invalid
        self.max_skips = max_skips
        self.skipped = 0
        self.in_a_row = 0
        self._skipped_last = False

    def before_train(self, runner) -> None:
        wrappers = runner.optim_wrapper
        wrappers = (wrappers.values() if hasattr(wrappers, 'optim_wrappers')
                    else [wrappers])
        for wrapper in wrappers:
            self._guard(runner, wrapper)

    def _guard(self, runner, wrapper) -> None:
        update_params = wrapper.update_params

        def checked_update_params(loss, *args, **kwargs):
            finite = torch.isfinite(loss.detach()).all().float()
            if get_world_size() > 1:
                all_reduce(finite, op='min')  # every rank takes the same decision
            if finite.item():
                self.in_a_row = 0
                self._skipped_last = False
                return update_params(loss, *args, **kwargs)
            self._invalid(runner, loss)

        wrapper.update_params = checked_update_params

    def _invalid(self, runner, loss: torch.Tensor) -> None:
        iteration = runner.iter + 1
        if self.on_invalid == 'skip' and self.in_a_row < self.max_skips:
            self.skipped += 1
            self.in_a_row += 1
            self._skipped_last = True
            print_log(f'InvalidLossHook: iteration {iteration}: loss {loss.item()}, '
                      f'its gradient is dropped ({self.skipped} iterations skipped so '
                      f'far, {self.in_a_row} in a row; stopping after {self.max_skips}).',
                      logger='current', level=30)
            return
        raise InvalidLossError(self.message(runner, loss.item()))

    @staticmethod
    def message(runner, loss: float) -> str:
        last = _last_checkpoint(runner.work_dir)
        lrs = runner.optim_wrapper.get_lr()
        lr = next(iter(lrs.values()))[0] if lrs else None
        where = (f'Last good checkpoint: {last}; `genloc-train CONFIG --resume` '
                 '(tools/train.py in a checkout) continues from it' if last
                 else 'No checkpoint was saved yet')
        return (
            f'Training stopped at iteration {runner.iter + 1} (epoch {runner.epoch + 1}): '
            f'the loss is {loss} (not finite); the weights were not updated with it. '
            f'{where} (work dir {runner.work_dir}). The run diverged: lower the learning '
            f'rate (optim_wrapper.optimizer.lr, now {lr}), or set '
            'InvalidLossHook(on_invalid="skip") in custom_hooks to drop such iterations.')

    def after_train_iter(self, runner, batch_idx: int, data_batch=None,
                         outputs: Optional[dict] = None) -> None:
        if self._skipped_last or outputs is None:
            return
        loss = outputs.get('loss')
        if loss is None or not self.every_n_train_iters(runner, self.interval):
            return
        value = float(loss.detach()) if isinstance(loss, torch.Tensor) else float(loss)
        if not math.isfinite(value):
            raise InvalidLossError(self.message(runner, value))

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        bad = [key for key, value in checkpoint.get('state_dict', {}).items()
               if torch.is_tensor(value) and value.is_floating_point()
               and not torch.isfinite(value).all()]
        if bad:
            raise InvalidLossError(
                f'Refusing to save a checkpoint at iteration {runner.iter + 1}: '
                f'{len(bad)} weights are not finite ({bad[:3]}). '
                + (f'Last good checkpoint: {_last_checkpoint(runner.work_dir)}.'
                   if _last_checkpoint(runner.work_dir) else 'No checkpoint was saved.'))


def _last_checkpoint(work_dir: str) -> Optional[str]:
    path = osp.join(work_dir, 'last_checkpoint')
    if not osp.isfile(path):
        return None
    with open(path) as f:
        return f.read().strip() or None
