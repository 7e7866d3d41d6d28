# GenLoc on AP-10K (paper Table 2: 80.1 AP). SD-1.5, LoRA r=16, CKHE + HEL.
# "8xb25": batch 25 with 8 gradient-accumulation steps = the paper's batch of 200 on
# one GPU. With tools/dist_train.sh on N GPUs set
# --cfg-options optim_wrapper.accumulative_counts=$((8 / N)).
_base_ = ['../_base_/default_runtime.py']

# Local diffusers folder of Stable Diffusion 1.5 (needs unet/ and vae/), see README.
sd_weights = 'checkpoints/stable-diffusion-v1-5'
data_root = 'data/ap10k/'
data_mode = 'topdown'
dataset_type = 'AP10KDataset'
num_keypoints = 17
max_epochs = 100

train_cfg = dict(max_epochs=max_epochs, val_interval=10)

optim_wrapper = dict(
    constructor='TrainableOptimWrapperConstructor',  # frozen SD weights stay out
    # bf16 autocast of the trained parts on an accelerator; without one (a CPU run)
    # TrainableOptimWrapperConstructor builds a plain OptimWrapper instead (MMEngine's
    # AmpOptimWrapper refuses CPUs), saying so in the log
    type='AmpOptimWrapper',
    dtype='bfloat16',
    loss_scale=dict(enabled=False),  # bf16 needs no loss scaling (and its host syncs)
    accumulative_counts=8,
    optimizer=dict(type='Adam', lr=1e-3),  # LoRA
    paramwise_cfg=dict(custom_keys=dict(conditions=dict(lr_mult=10.0))))  # 1e-2
param_scheduler = [
    dict(type='LinearLR', begin=0, end=500, start_factor=0.001, by_epoch=False),
    dict(type='MultiStepLR', begin=0, end=max_epochs, milestones=[80, 95], gamma=0.1,
         by_epoch=True)
]
auto_scale_lr = dict(base_batch_size=200)
default_hooks = dict(checkpoint=dict(save_best='coco/AP', rule='greater', max_keep_ckpts=2))

# decoding: argmax of the fused map + DARK sub-pixel refinement (docs/experiments.md);
# refine=None decodes the plain argmax, as the paper
codec = dict(type='GenLocHeatmap', input_size=(256, 256), heatmap_size=(64, 64), sigma=2,
             refine='dark', blur_kernel_size=5)

model = dict(
    type='BatchFlipTopdownPoseEstimator',  # flip test as one batched pass
    data_preprocessor=dict(
        type='PoseDataPreprocessor', mean=[127.5] * 3, std=[127.5] * 3, bgr_to_rgb=True),
    backbone=dict(
        type='GenLocBackbone',
        num_keypoints=num_keypoints,
        pretrained=sd_weights,
        lora=dict(r=16, lora_alpha=16, target_modules=['to_q', 'to_k', 'to_v', 'to_out.0']),
        map_mode='ckhe',
        noise_timestep=None,
        # 'random' as the paper; 'text': each condition from its keypoint's name
        # ("the animal's left eye") with SD's text encoder (needs text_encoder/ and
        # tokenizer/ in sd_weights; docs/custom_keypoints.md)
        condition_init='random',
        keypoint_names=dict(from_file='configs/_base_/datasets/ap10k.py'),
        object_name='animal',
        # torch.compile: 1.7x faster training, 2.3x inference on one H200 after ~2 min
        # of compilation (docs/benchmarks.md); False to debug. with_cp=True: memory mode.
        compile=True,
        # bf16 VAE/U-Net (frozen weights stored in bf16) in training, validation,
        # tools/test.py and MMPoseInferencer alike where the device computes bf16 in
        # hardware (CUDA GPUs with bf16, CPUs with AVX512-BF16 / AMX), fp32 elsewhere
        # (emulated bf16 is ~100x slower); maps, head and decode in fp32.
        # 'bfloat16' forces it.
        compute_dtype='auto',
        with_cp=False),
    head=dict(
        type='CorrelationMapHead',
        decoder=codec,
        loss=dict(type='HeatmapExpectationLoss', use_target_weight=True)),
    test_cfg=dict(flip_test=True, flip_mode='heatmap', shift_heatmap=False))

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
