# The tiny random-weight GenLoc on the AP-10K sample (2 animals): the tests.
# Same setup as the COCO one (see there for what differs from the SD-1.5 configs).
_base_ = ['./genloc_tiny_1xb4-300it_coco-128x96.py']

data_root = 'demo/data/ap10k/'
dataset_type = 'AP10KDataset'
max_iters = 150
codec = dict(type='GenLocHeatmap', input_size=(128, 128), heatmap_size=(64, 64), sigma=2,
             refine='dark', blur_kernel_size=5)

model = dict(head=dict(decoder=codec))
param_scheduler = [dict(type='CosineAnnealingLR', T_max=max_iters, by_epoch=False)]
train_cfg = dict(max_iters=max_iters, val_interval=max_iters)
default_hooks = dict(checkpoint=dict(interval=max_iters))

train_pipeline = [
    dict(type='GenLocLoadImage'),
    dict(type='GetBBoxCenterScale', padding=1.0),
    dict(type='TopdownAffine', input_size=codec['input_size']),
    dict(type='GenerateTarget', encoder=codec),
    dict(type='PackPoseInputs')
]
val_pipeline = [
    dict(type='GenLocLoadImage'),
    dict(type='GetBBoxCenterScale', padding=1.0),
    dict(type='TopdownAffine', input_size=codec['input_size']),
    dict(type='PackPoseInputs')
]
train_dataloader = dict(
    batch_size=2,
    dataset=dict(type=dataset_type, data_root=data_root, ann_file='test_ap10k.json',
                 pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=2,
    dataset=dict(type=dataset_type, data_root=data_root, ann_file='test_ap10k.json',
                 pipeline=val_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(type='CocoMetric', ann_file=data_root + 'test_ap10k.json')
test_evaluator = val_evaluator
