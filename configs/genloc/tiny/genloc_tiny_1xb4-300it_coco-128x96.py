# A tiny random-weight GenLoc (no Stable Diffusion weights needed) that trains on
# the CPU in minutes: the end-to-end tests, `tools/new_keypoints.py --arch tiny` and
# the browser app's Teach tab use it.
# Same modules and chain as the SD-1.5 configs (VAE encoder, U-Net, CKHE, HEL, codec,
# back-projection, CocoMetric); only the U-Net/VAE are small and random. What differs,
# and why (an overfit of 12 instances with no generative prior):
# - the random U-Net has no prior to keep: it is trained fully (freeze_unet=False, no
#   LoRA); the VAE stays frozen;
# - no flip augmentation and no flip test: a random net learns mirrored left/right
#   limbs slowly (the flip-test path is checked exactly by the tests with
#   ground-truth maps);
# - tight crops (bbox padding 1.0): less of the neighbouring people in the crop.
# On the 12 COCO sample instances this reaches CocoMetric AP >= 0.9 in 300 steps
# (0.924 / 0.971 / 0.975 with seeds 0 / 1 / 2; 90 s on one thread).
_base_ = ['../_base_/default_runtime.py']

data_root = 'demo/data/coco/'
data_mode = 'topdown'
dataset_type = 'CocoDataset'
num_keypoints = 17
max_iters = 300

codec = dict(type='GenLocHeatmap', input_size=(96, 128), heatmap_size=(48, 64), sigma=2,
             refine='dark', blur_kernel_size=5)

tiny_unet = dict(
    sample_size=16,
    in_channels=4,
    out_channels=4,
    block_out_channels=(16, 32, 64),  # thin at the full latent resolution
    layers_per_block=1,
    down_block_types=('CrossAttnDownBlock2D', 'CrossAttnDownBlock2D', 'DownBlock2D'),
    up_block_types=('UpBlock2D', 'CrossAttnUpBlock2D', 'CrossAttnUpBlock2D'),
    cross_attention_dim=32,
    attention_head_dim=1,  # one head: 32/64-d queries localise far better than 8-d
    # self-attention over all latent tokens dominates CPU time; attend to the
    # conditions only (CKHE layers are unchanged).
    only_cross_attention=True,
    norm_num_groups=8)
tiny_vae = dict(
    in_channels=3,
    out_channels=3,
    latent_channels=4,
    # /2: latent 64x48 for a 128x96 crop. Maps are as fine as the latent: HEL puts
    # the mass on the best latent cell, so the cell size bounds the precision.
    block_out_channels=(16, 32),
    down_block_types=('DownEncoderBlock2D', ) * 2,
    up_block_types=('UpDecoderBlock2D', ) * 2,
    layers_per_block=1,
    norm_num_groups=8,
    sample_size=64,
    # no self-attention over the 64x48 latent tokens in the VAE's mid-block: in a
    # random frozen VAE it adds nothing the overfit needs, and it was a fifth of a
    # training step (SD's own VAE keeps it)
    mid_block_add_attention=False,
    # unit-variance latents, as SD-1.5's 0.18215 gives for its own VAE
    scaling_factor=4.0)

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
        freeze_unet=False,
        lora=None),
    head=dict(type='CorrelationMapHead', decoder=codec,
              loss=dict(type='HeatmapExpectationLoss')),
    test_cfg=dict(flip_test=False, flip_mode='heatmap', shift_heatmap=False))

optim_wrapper = dict(
    constructor='TrainableOptimWrapperConstructor',  # the frozen VAE stays out
    optimizer=dict(type='Adam', lr=2e-3),  # U-Net
    paramwise_cfg=dict(custom_keys=dict(conditions=dict(lr_mult=10.0))))  # 2e-2
param_scheduler = [dict(type='CosineAnnealingLR', T_max=max_iters, by_epoch=False)]
train_cfg = dict(_delete_=True, type='IterBasedTrainLoop', max_iters=max_iters,
                 val_interval=max_iters)
val_cfg = dict()
test_cfg = dict()
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=25),
    checkpoint=dict(by_epoch=False, interval=max_iters))
log_processor = dict(by_epoch=False, window_size=25)
env_cfg = dict(dist_cfg=dict(backend='gloo'))
randomness = dict(seed=0)

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
    # batch 4: AP 0.92-0.98 after 300 steps (seeds 0-2), as batch 12 and 6 (0.936 /
    # 0.939, seed 0) in a third / two thirds of their time (docs/benchmarks.md)
    batch_size=4,
    num_workers=0,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        data_mode=data_mode,
        ann_file='test_coco.json',
        data_prefix=dict(img=''),
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=12,
    num_workers=0,
    drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False, round_up=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        data_mode=data_mode,
        ann_file='test_coco.json',
        data_prefix=dict(img=''),
        test_mode=True,
        pipeline=val_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(type='CocoMetric', ann_file=data_root + 'test_coco.json')
test_evaluator = val_evaluator
