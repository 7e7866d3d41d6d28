"""Registries of the ``genloc_mmpose`` scope: children of MMPose's, empty.

GenLoc's modules register into MMPose's registries, so stock configs (default scope
``mmpose``) find them. A config read through ``genloc_mmpose::...`` (mmengine's
``pkg::`` base configs) gets ``_scope_='genloc_mmpose'`` on its objects; mmengine
then builds them from the registries of that scope, which are these: each is a child
of MMPose's registry of the same name, so every lookup falls through to MMPose (and
from there to MMEngine), exactly as with the ``mmpose`` scope.
"""
from mmengine.registry import Registry
from mmpose import registry as mmpose_registry

for _name, _parent in vars(mmpose_registry).copy().items():
    if isinstance(_parent, Registry) and _parent.scope == 'mmpose':
        globals()[_name] = Registry(
            _parent.name, parent=_parent, scope='genloc_mmpose',
            locations=[*_parent._locations, 'genloc_mmpose'])
