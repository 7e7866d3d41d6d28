# CPU check of the GenLoc parts on the procedural marker dataset
# (tools/misc/make_synthetic_keypoints.py): a tiny random-weight U-Net/VAE, frozen,
# with CKHE maps + HEL + LoRA r=16 (the method's recipe), trained on the synthetic
# train split and tested on its held-out test split (AP with CocoMetric). A check
# that each part of the method does its job, not a reproduction of any paper number;
# see docs/experiments.md. Variants: *_crossattn (eq. 6 maps), *_mse (MSE loss),
# *_condonly (no LoRA), *_crossattn-mse.
#
# The tiny model (frozen random U-Net + LoRA, as the method trains SD-1.5) is written
# out here rather than inherited from the demo config, so that edits of the demo
# config cannot change this benchmark or invalidate its checkpoints.
_base_ = ['../_base_/default_runtime.py']

data_root = 'data/synthetic_markers/'
data_mode = 'topdown'
dataset_type = 'CocoDataset'
metainfo = dict(from_file='{{ fileDirname }}/_base_/datasets/synthetic_markers.py')
num_keypoints = 9
max_iters = 300

# decoding: argmax + DARK sub-pixel refinement (refine=None: the plain argmax)
codec = dict(type='GenLocHeatmap', input_size=(64, 64), heatmap_size=(32, 32), sigma=1.5,
             refine='dark', blur_kernel_size=5)

tiny_unet = dict(
    sample_size=16,
    in_channels=4,
    out_channels=4,
    block_out_channels=(32, 64, 64),
    layers_per_block=1,
    down_block_types=('CrossAttnDownBlock2D', 'CrossAttnDownBlock2D', 'DownBlock2D'),
    up_block_types=('UpBlock2D', 'CrossAttnUpBlock2D', 'CrossAttnUpBlock2D'),
    cross_attention_dim=32,
    attention_head_dim=4,
    # no self-attention over the latent tokens (it dominates CPU time); the CKHE
    # layers (attn2 of the up-blocks) are unchanged.
    only_cross_attention=True,
    norm_num_groups=8)
tiny_vae = dict(
    in_channels=3,
    out_channels=3,
    latent_channels=4,
    block_out_channels=(16, 32),
    down_block_types=('DownEncoderBlock2D', ) * 2,
    up_block_types=('UpDecoderBlock2D', ) * 2,
    layers_per_block=1,
    norm_num_groups=8,
    sample_size=64,
    scaling_factor=4.0)  # unit-variance latents, as 0.18215 gives SD-1.5's VAE

model = dict(
    type='TopdownPoseEstimator',
    data_preprocessor=dict(
        type='PoseDataPreprocessor', mean=[127.5] * 3, std=[127.5] * 3, bgr_to_rgb=True),
    backbone=dict(
        type='GenLocBackbone',
        num_keypoints=num_keypoints,
        pretrained=None,
        unet_cfg=tiny_unet,
        vae_cfg=tiny_vae,
        lora=dict(r=16, lora_alpha=16, target_modules=['to_q', 'to_k', 'to_v', 'to_out.0'])),
    head=dict(type='CorrelationMapHead', decoder=codec,
              loss=dict(type='HeatmapExpectationLoss')),
    test_cfg=dict(flip_test=True, flip_mode='heatmap', shift_heatmap=False))

# Random weights carry no prior: train the conditions and LoRA fast.
optim_wrapper = dict(
    constructor='TrainableOptimWrapperConstructor',  # frozen weights stay out
    optimizer=dict(type='Adam', lr=1e-2),
    paramwise_cfg=dict(custom_keys=dict(conditions=dict(lr_mult=1.0))))
param_scheduler = [
    dict(type='LinearLR', begin=0, end=30, start_factor=0.1, by_epoch=False),
    dict(type='CosineAnnealingLR', begin=30, end=max_iters, T_max=max_iters - 30,
         by_epoch=False)
]
train_cfg = dict(_delete_=True, type='IterBasedTrainLoop', max_iters=max_iters,
                 val_interval=max_iters)
val_cfg = dict()
test_cfg = dict()
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=50),
    checkpoint=dict(by_epoch=False, interval=max_iters))
log_processor = dict(by_epoch=False, window_size=50)
env_cfg = dict(dist_cfg=dict(backend='gloo'))
randomness = dict(seed=0)

train_pipeline = [
    dict(type='GenLocLoadImage'),
    dict(type='GetBBoxCenterScale'),
    dict(type='RandomFlip', direction='horizontal'),
    dict(type='RandomBBoxTransform', shift_factor=0.1, scale_factor=(0.8, 1.2),
         rotate_factor=20),
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
train_dataloader = dict(
    batch_size=16,
    num_workers=0,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        data_mode=data_mode,
        metainfo=metainfo,
        ann_file='annotations/synthetic_train.json',
        data_prefix=dict(img='images/'),
        pipeline=train_pipeline))
# Validation at the end of training: the first 200 images of the *train* split
# (seen in training), to compare with the held-out test AP (generalisation gap).
val_dataloader = dict(
    batch_size=32,
    num_workers=0,
    drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False, round_up=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        data_mode=data_mode,
        metainfo=metainfo,
        ann_file='annotations/synthetic_train-seen200.json',
        data_prefix=dict(img='images/'),
        test_mode=True,
        pipeline=val_pipeline))
test_dataloader = dict(
    batch_size=32,
    num_workers=0,
    drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False, round_up=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        data_mode=data_mode,
        metainfo=metainfo,
        ann_file='annotations/synthetic_test.json',
        data_prefix=dict(img='images/'),
        test_mode=True,
        pipeline=val_pipeline))
val_evaluator = dict(
    type='CocoMetric', ann_file=data_root + 'annotations/synthetic_train-seen200.json')
test_evaluator = dict(
    type='CocoMetric', ann_file=data_root + 'annotations/synthetic_test.json')
