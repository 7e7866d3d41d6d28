"""A checkpoint that ``--resume`` finds is always complete.

mmengine's ``CheckpointHook`` (<= 0.10.7) writes a checkpoint in place, removes the
oldest kept checkpoint *before* saving the new one, and rewrites ``last_checkpoint``
in place: a kill in between leaves ``last_checkpoint`` naming a deleted or
half-written file (with ``max_keep_ckpts=1`` the only good one is gone).
"""
import os
import os.path as osp

from mmengine.dist import is_main_process
from mmengine.fileio.backends import LocalBackend
from mmengine.hooks import CheckpointHook
from mmpose.registry import HOOKS

from ..fileio import atomic_write


@HOOKS.register_module()
class AtomicCheckpointHook(CheckpointHook):
    """MMEngine's ``CheckpointHook`` (same arguments) saving in a safe order: the
    checkpoint to a temporary name, synced and renamed (local folders), then
    ``last_checkpoint`` (atomically), then the removal of the outdated checkpoint.
    Set in ``configs/genloc/_base_/default_runtime.py`` as ``default_hooks.checkpoint``.
    The best checkpoint (``save_best``) is replaced as mmengine does."""

    def _save_checkpoint_with_step(self, runner, step, meta):
        outdated = None
        if self.max_keep_ckpts > 0 and not (self.keep_ckpt_ids
                                            and self.keep_ckpt_ids[-1] == step):
            if len(self.keep_ckpt_ids) == self.max_keep_ckpts:
                outdated = self.keep_ckpt_ids.popleft()
            self.keep_ckpt_ids.append(step)
            runner.message_hub.update_info('keep_ckpt_ids', list(self.keep_ckpt_ids))
        filename = self.filename_tmpl.format(step)
        self.last_ckpt = self.file_backend.join_path(self.out_dir, filename)
        runner.message_hub.update_info('last_ckpt', self.last_ckpt)
        local = isinstance(self.file_backend, LocalBackend)
        written = f'{filename}.tmp{os.getpid()}' if local else filename
        try:
            runner.save_checkpoint(
                self.out_dir, written, self.file_client_args,
                save_optimizer=self.save_optimizer,
                save_param_scheduler=self.save_param_scheduler, meta=meta,
                by_epoch=self.by_epoch, backend_args=self.backend_args, **self.args)
        except BaseException:  # no partial file left (after a kill, only a .tmp one)
            if local and osp.exists(osp.join(self.out_dir, written)):
                os.remove(osp.join(self.out_dir, written))
            raise
        if not is_main_process():
            return
        if local:
            _sync_and_rename(osp.join(self.out_dir, written), self.last_ckpt)
        atomic_write(osp.join(runner.work_dir, 'last_checkpoint'), self.last_ckpt, 'w')
        if outdated is not None:
            path = self.file_backend.join_path(self.out_dir, self.filename_tmpl.format(outdated))
            if self.file_backend.isfile(path):
                self.file_backend.remove(path)
            elif self.file_backend.isdir(path):  # deepspeed saves folders
                self.file_backend.rmtree(path)


def _sync_and_rename(written: str, final: str) -> None:
    """Flush ``written`` to disk and rename it to ``final`` (atomic on POSIX)."""
    fd = os.open(written, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(written, final)
