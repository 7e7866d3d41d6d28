"""mmengine <= 0.10.7 writes checkpoints in place (``LocalBackend.put``), so a kill
during a save leaves a truncated file; and ``CheckpointHook`` deletes the oldest kept
checkpoint *before* saving the new one and rewrites ``last_checkpoint`` in place, so a
kill in between leaves ``last_checkpoint`` naming a deleted or half-written file (with
``max_keep_ckpts=1``, the only good one is gone).

The fix: files are written to a temporary name, synced and renamed (atomic on POSIX),
``last_checkpoint`` likewise, and outdated checkpoints are removed only after the new
one and ``last_checkpoint`` are in place: ``--resume`` always finds a complete
checkpoint (docs/reliability.md).
"""
import os.path as osp

from mmengine.utils import digit_version

from ..fileio import atomic_write

FIXED_UP_TO = '0.10.7'  # the newest mmengine release; checked by tests/test_patches.py
UPSTREAM = {}  # mmengine's methods, once replaced


def _put(self, obj: bytes, filepath) -> None:
    """``LocalBackend.put``, atomically."""
    atomic_write(filepath, obj, 'wb')


def _put_text(self, obj: str, filepath, encoding: str = 'utf-8') -> None:
    """``LocalBackend.put_text``, atomically."""
    atomic_write(filepath, obj.encode(encoding), 'wb')


def _save_checkpoint_with_step(self, runner, step, meta):
    """mmengine 0.10.7's ``CheckpointHook._save_checkpoint_with_step`` with the
    order fixed: save, then ``last_checkpoint`` (atomically), then remove the
    outdated checkpoint."""
    from mmengine.dist import is_main_process
    outdated = None
    if self.max_keep_ckpts > 0 and not (self.keep_ckpt_ids
                                        and self.keep_ckpt_ids[-1] == step):
        if len(self.keep_ckpt_ids) == self.max_keep_ckpts:
            outdated = self.keep_ckpt_ids.popleft()
        self.keep_ckpt_ids.append(step)
        runner.message_hub.update_info('keep_ckpt_ids', list(self.keep_ckpt_ids))
    ckpt_filename = self.filename_tmpl.format(step)
    self.last_ckpt = self.file_backend.join_path(self.out_dir, ckpt_filename)
    runner.message_hub.update_info('last_ckpt', self.last_ckpt)
    runner.save_checkpoint(
        self.out_dir, ckpt_filename, self.file_client_args,
        save_optimizer=self.save_optimizer,
        save_param_scheduler=self.save_param_scheduler, meta=meta, by_epoch=self.by_epoch,
        backend_args=self.backend_args, **self.args)
    if not is_main_process():
        return
    atomic_write(osp.join(runner.work_dir, 'last_checkpoint'), self.last_ckpt.encode(), 'wb')
    if outdated is not None:
        path = self.file_backend.join_path(self.out_dir, self.filename_tmpl.format(outdated))
        if self.file_backend.isfile(path):
            self.file_backend.remove(path)
        elif self.file_backend.isdir(path):  # deepspeed saves directories
            self.file_backend.rmtree(path)


def applies() -> bool:
    import mmengine
    return digit_version(mmengine.__version__) <= digit_version(FIXED_UP_TO)


def apply() -> None:
    """Atomic local writes and a safe save order in ``CheckpointHook``; mmengine's
    own methods stay in :data:`UPSTREAM`."""
    from mmengine.fileio.backends import LocalBackend
    from mmengine.hooks import CheckpointHook
    if not applies() or UPSTREAM:
        return
    UPSTREAM.update(put=LocalBackend.put, put_text=LocalBackend.put_text,
                    save=CheckpointHook._save_checkpoint_with_step)
    LocalBackend.put = _put
    LocalBackend.put_text = _put_text
    CheckpointHook._save_checkpoint_with_step = _save_checkpoint_with_step
