# GenLoc on AP-10K (paper Table 2: 80.1 AP): the model and recipe of
# ../_base_/models/genloc_sd15-lora16.py (SD-1.5, LoRA r=16, CKHE + HEL, batch 25 x 8
# accumulation steps = the paper's 200) on AP-10K's split 1 for 100 epochs.
_base_ = ['../_base_/models/genloc_sd15-lora16.py']

data_root = 'data/ap10k/'
data_mode = 'topdown'
dataset_type = 'AP10KDataset'
max_epochs = 100

train_cfg = dict(max_epochs=max_epochs, val_interval=10)
param_scheduler = [
    dict(type='LinearLR', begin=0, end=500, start_factor=0.001, by_epoch=False),
    dict(type='MultiStepLR', begin=0, end=max_epochs, milestones=[80, 95], gamma=0.1,
         by_epoch=True)
]
default_hooks = dict(checkpoint=dict(save_best='coco/AP', rule='greater', max_keep_ckpts=2))

# the model base's codec at AP-10K's input size (DARK decoding)
codec = dict(type='GenLocHeatmap', input_size=(256, 256), heatmap_size=(64, 64), sigma=2,
             refine='dark', blur_kernel_size=5)
model = dict(head=dict(decoder=codec))

train_pipeline = [
    # decode at the crop's scale; decode_cache_dir='data/ap10k/decoded/' keeps the decodes
    # for the later epochs (~2x faster again, costs disk: docs/benchmarks.md)
    dict(type='GenLocLoadImage', reduced_decode=True, decode_cache_dir=None),
    dict(type='GetBBoxCenterScale'),
    dict(type='GenLocRandomFlip', direction='horizontal'),
    dict(type='RandomHalfBody'),
    dict(type='RandomBBoxTransform'),
    dict(type='GenLocTopdownAffine', input_size=codec['input_size']),
    dict(type='GenerateTarget', encoder=codec),
    dict(type='PackPoseInputs')
]
val_pipeline = [
    dict(type='GenLocLoadImage', cache_images=1),  # decode once for all boxes of an image
    dict(type='GetBBoxCenterScale'),
    dict(type='TopdownAffine', input_size=codec['input_size']),
    dict(type='PackPoseInputs')
]
train_dataloader = dict(
    batch_size=25,
    num_workers=8,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        data_mode=data_mode,
        ann_file='annotations/ap10k-train-split1.json',
        data_prefix=dict(img='data/'),
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=32,
    num_workers=8,
    persistent_workers=True,
    drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False, round_up=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        data_mode=data_mode,
        ann_file='annotations/ap10k-val-split1.json',
        data_prefix=dict(img='data/'),
        test_mode=True,
        pipeline=val_pipeline))
test_dataloader = dict(
    batch_size=32,
    num_workers=8,
    persistent_workers=True,
    drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False, round_up=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        data_mode=data_mode,
        ann_file='annotations/ap10k-test-split1.json',
        data_prefix=dict(img='data/'),
        test_mode=True,
        pipeline=val_pipeline))
val_evaluator = dict(type='CocoMetric', ann_file=data_root + 'annotations/ap10k-val-split1.json')
test_evaluator = dict(type='CocoMetric', ann_file=data_root + 'annotations/ap10k-test-split1.json')
