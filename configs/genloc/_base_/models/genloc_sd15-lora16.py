# The GenLoc model and training recipe on Stable Diffusion 1.5, for any dataset: frozen
# SD-1.5 (VAE + U-Net at t=0), K learnable keypoint conditions (lr 1e-2) + LoRA r=16 on
# the U-Net's attention (lr 1e-3), CKHE maps fused by CorrelationMapHead, HEL loss,
# flip test as one batched pass, DARK decoding. "8xb25": batch 25 with 8
# gradient-accumulation steps = the paper's batch of 200 on one GPU; with
# tools/dist_train.sh on N GPUs set --cfg-options optim_wrapper.accumulative_counts=$((8 / N)).
# A dataset's config inherits this and sets num_keypoints, keypoint_names /
# object_name, the codec's input size, data and schedule (configs/genloc/<dataset>/).
_base_ = ['../default_runtime.py']

# Local diffusers folder of Stable Diffusion 1.5 (needs unet/ and vae/), see README.
sd_weights = 'checkpoints/stable-diffusion-v1-5'
num_keypoints = 17

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
auto_scale_lr = dict(base_batch_size=200)

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
