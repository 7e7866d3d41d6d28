# GenLoc with the miniature Stable Diffusion trained in this repository (demo/mini-sd,
# tools/misc/train_mini_sd.py) on its procedural creature world
# (genloc_mmpose/synthetic/creatures.py; data made by tools/misc/make_creatures.py): the
# AP-10K recipe (frozen SD, LoRA r=16 on the U-Net attention, CKHE + HEL, conditions
# at 10x the LoRA learning rate, flip augmentation and flip test, DARK decoding) at
# 64x64 on the CPU: fp32, batch 16, 1000 iterations (the budget chosen from the learning
# curves of docs/experiments.md: the prior stops improving by 500-750), no accumulation.
# Labelled images come from the 'val' split of the world and test images from 'test':
# the prior never saw either. docs/experiments.md, "GenLoc on a miniature SD".
_base_ = ['../_base_/models/genloc_sd15-lora16.py']

sd_weights = 'demo/mini-sd'
data_root = 'data/creatures/'
dataset_type = 'CocoDataset'
data_mode = 'topdown'  # read by MMPose's inferencer too
metainfo = dict(from_file='{{ fileDirname }}/_base_/datasets/creatures.py')
num_keypoints = 18
max_iters = 1000

train_cfg = dict(_delete_=True, type='IterBasedTrainLoop', max_iters=max_iters,
                 val_interval=max_iters)
optim_wrapper = dict(
    _delete_=True,
    constructor='TrainableOptimWrapperConstructor',
    optimizer=dict(type='Adam', lr=1e-3),  # LoRA
    paramwise_cfg=dict(custom_keys=dict(conditions=dict(lr_mult=10.0))))  # 1e-2
param_scheduler = [
    dict(type='LinearLR', begin=0, end=20, start_factor=0.01, by_epoch=False),
    dict(type='CosineAnnealingLR', begin=20, end=max_iters, T_max=max_iters - 20,
         by_epoch=False)
]
auto_scale_lr = None
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=50),
    checkpoint=dict(_delete_=True, type='AtomicCheckpointHook', by_epoch=False,
                    interval=max_iters))
log_processor = dict(by_epoch=False, window_size=50)
env_cfg = dict(dist_cfg=dict(backend='gloo'))
randomness = dict(seed=0)

# the finest CKHE maps are 16x16 (stride 4): fused at 32x32 (stride 2)
codec = dict(type='GenLocHeatmap', input_size=(64, 64), heatmap_size=(32, 32), sigma=1.5,
             refine='dark', blur_kernel_size=5)
model = dict(
    backbone=dict(
        num_keypoints=num_keypoints,
        pretrained=sd_weights,
        keypoint_names=metainfo,
        object_name='creature',
        compile=False,
        compute_dtype=None),
    head=dict(decoder=codec))

train_pipeline = [
    dict(type='GenLocLoadImage'),
    dict(type='GetBBoxCenterScale'),
    dict(type='RandomFlip', direction='horizontal'),
    dict(type='RandomBBoxTransform', rotate_factor=30),
    dict(type='TopdownAffine', input_size=codec['input_size']),
    dict(type='GenerateTarget', encoder=codec),
    dict(type='PackPoseInputs')
]
val_pipeline = [
    dict(type='GenLocLoadImage'),
    dict(type='GetBBoxCenterScale'),
    dict(type='TopdownAffine', input_size=codec['input_size']),
    dict(type='PackPoseInputs')
]
dataset = dict(type=dataset_type, data_root=data_root, data_mode=data_mode,
               metainfo=metainfo, data_prefix=dict(img='images/'))
train_dataloader = dict(
    batch_size=16,
    num_workers=0,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(dataset, ann_file='annotations/creatures_pool.json',
                 pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=32,
    num_workers=0,
    drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False, round_up=False),
    dataset=dict(dataset, ann_file='annotations/creatures_test.json', test_mode=True,
                 pipeline=val_pipeline))
test_dataloader = val_dataloader
# AP with AP-10K's sigmas asks for ~1-2 px on a 64-px creature: PCK@0.1 of the box
# and the mean pixel error (EPE) say more at this size
val_evaluator = [
    dict(type='CocoMetric', ann_file=data_root + 'annotations/creatures_test.json'),
    dict(type='PCKAccuracy', thr=0.1, norm_item='bbox'),
    dict(type='EPE')
]
test_evaluator = val_evaluator
