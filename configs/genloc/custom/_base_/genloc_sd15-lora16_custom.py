# Base recipe of the configs that tools/new_keypoints.py writes for --arch sd15: the
# paper's SD-1.5 recipe (../../_base_/models/genloc_sd15-lora16.py: frozen SD-1.5,
# LoRA r=16, CKHE + HEL, batch 25 x 8 accumulation, flip test) for any object of a
# COCO-keypoints export, with the AP-10K config's loaders and schedule shape, and no
# RandomHalfBody (an arbitrary object has no upper / lower body). The fast data
# pipeline (decode at the crop's scale, the flip folded into the warp;
# docs/benchmarks.md). Each generated config states its data files, metainfo, input
# size, schedule and condition init (docs/custom_keypoints.md).
_base_ = ['../../_base_/models/genloc_sd15-lora16.py']

data_root = 'data/ap10k/'
data_mode = 'topdown'
dataset_type = 'CocoDataset'
max_epochs = 100

train_cfg = dict(max_epochs=max_epochs, val_interval=10)
param_scheduler = [
    dict(type='LinearLR', begin=0, end=500, start_factor=0.001, by_epoch=False),
    dict(type='MultiStepLR', begin=0, end=max_epochs, milestones=[80, 95], gamma=0.1,
         by_epoch=True)
]
default_hooks = dict(checkpoint=dict(save_best='coco/AP', rule='greater', max_keep_ckpts=2))

codec = {{_base_.codec}}
train_pipeline = [
    dict(type='GenLocLoadImage', reduced_decode=True, decode_cache_dir=None),
    dict(type='GetBBoxCenterScale'),
    dict(type='GenLocRandomFlip', direction='horizontal'),
    dict(type='RandomBBoxTransform'),
    dict(type='GenLocTopdownAffine', input_size={{_base_.codec.input_size}}),
    dict(type='GenerateTarget', encoder={{_base_.codec}}),
    dict(type='PackPoseInputs')
]
val_pipeline = [
    dict(type='GenLocLoadImage', cache_images=1),  # decode once for all boxes of an image
    dict(type='GetBBoxCenterScale'),
    dict(type='TopdownAffine', input_size={{_base_.codec.input_size}}),
    dict(type='PackPoseInputs')
]
loader = dict(batch_size=32, num_workers=8, persistent_workers=True, drop_last=False,
              sampler=dict(type='DefaultSampler', shuffle=False, round_up=False))
train_dataloader = dict(
    batch_size=25,
    num_workers=8,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(type=dataset_type, data_root=data_root, data_mode=data_mode,
                 ann_file='annotations/ap10k-train-split1.json',
                 data_prefix=dict(img='data/'), pipeline=train_pipeline))
val_dataloader = dict(
    loader,
    dataset=dict(type=dataset_type, data_root=data_root, data_mode=data_mode,
                 ann_file='annotations/ap10k-val-split1.json', data_prefix=dict(img='data/'),
                 test_mode=True, pipeline=val_pipeline))
test_dataloader = dict(
    loader,
    dataset=dict(type=dataset_type, data_root=data_root, data_mode=data_mode,
                 ann_file='annotations/ap10k-test-split1.json', data_prefix=dict(img='data/'),
                 test_mode=True, pipeline=val_pipeline))
val_evaluator = dict(type='CocoMetric', ann_file=data_root + 'annotations/ap10k-val-split1.json')
test_evaluator = dict(type='CocoMetric', ann_file=data_root + 'annotations/ap10k-test-split1.json')
