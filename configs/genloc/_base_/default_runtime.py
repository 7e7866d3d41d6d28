# MMPose's runtime with GenLoc registered and a guard against diverging runs: every
# GenLoc config inherits this.
_base_ = ['mmpose::_base_/default_runtime.py']
custom_imports = dict(imports=['genloc_mmpose'], allow_failed_imports=False)
# A non-finite loss stops training before it reaches the weights, naming the
# iteration and the last good checkpoint (on_invalid='skip' drops such iterations
# instead); no checkpoint with a non-finite weight is saved. docs/reliability.md.
# Checkpoints saved in a safe order (temporary file, sync, rename; the outdated one
# removed last): --resume always finds a complete checkpoint. docs/reliability.md.
default_hooks = dict(checkpoint=dict(type='AtomicCheckpointHook'))
custom_hooks = [dict(type='SyncBuffersHook'), dict(type='InvalidLossHook', on_invalid='raise')]
