# GenLoc on COCO keypoints (paper Table 3: 77.6 AP), 14 epochs, SD-1.5, LoRA r=16.
# Test uses the usual person detections (AP 56 detector); for GT boxes add
# --cfg-options val_dataloader.dataset.bbox_file=None test_dataloader.dataset.bbox_file=None
_base_ = ['../_base_/models/genloc_sd15-lora16.py']

data_root = 'data/coco/'
data_mode = 'topdown'
dataset_type = 'CocoDataset'
max_epochs = 14

train_cfg = dict(max_epochs=max_epochs, val_interval=2)
default_hooks = dict(checkpoint=dict(save_best='coco/AP', rule='greater', max_keep_ckpts=2))
param_scheduler = [
    dict(type='LinearLR', begin=0, end=500, start_factor=0.001, by_epoch=False),
    dict(type='MultiStepLR', begin=0, end=max_epochs, milestones=[10, 13], gamma=0.1,
         by_epoch=True)
]

codec = dict(type='GenLocHeatmap', input_size=(192, 256), heatmap_size=(48, 64), sigma=2,
             refine='dark', blur_kernel_size=5)
model = dict(
    backbone=dict(keypoint_names=dict(from_file='configs/_base_/datasets/coco.py'),
                  object_name='person'),  # for condition_init='text'
    head=dict(decoder=codec))

train_pipeline = [
    # decode at the crop's scale; decode_cache_dir='data/coco/decoded/' keeps the decodes
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
        ann_file='annotations/person_keypoints_train2017.json',
        data_prefix=dict(img='train2017/'),
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
        ann_file='annotations/person_keypoints_val2017.json',
        bbox_file=data_root + 'person_detection_results/'
        'COCO_val2017_detections_AP_H_56_person.json',
        data_prefix=dict(img='val2017/'),
        test_mode=True,
        pipeline=val_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(
    type='CocoMetric', ann_file=data_root + 'annotations/person_keypoints_val2017.json')
test_evaluator = val_evaluator
