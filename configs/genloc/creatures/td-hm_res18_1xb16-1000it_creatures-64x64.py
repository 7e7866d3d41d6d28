# The peer GenLoc is measured against on the creature world: what an MMPose user would
# otherwise train on a handful of labelled images, MMPose's own top-down heatmap model
# (SimpleBaseline: ResNet + deconvolution HeatmapHead, MSRAHeatmap codec, MSE loss, Adam
# at MMPose's 5e-4, from its td-hm_res50_8xb64-210e_coco-256x192 recipe) at ResNet-18,
# trained from scratch (no ImageNet weights: nothing to download, and the creatures
# are the only images it sees). Same data, pipeline augmentations, batch, iterations and
# evaluation as the GenLoc creature config it inherits; only the model and its codec
# differ. docs/experiments.md, "GenLoc on a miniature SD".
_base_ = ['./genloc_minisd-lora16_1xb16-1000it_creatures-64x64.py']

# 64x64 crops -> 16x16 heatmaps (stride 4, as the recipe's 256x192 -> 64x48); sigma 1
# heatmap px = 4 image px, the recipe's 2 px at 1/4 of its size rounded up
codec = dict(type='MSRAHeatmap', input_size=(64, 64), heatmap_size=(16, 16), sigma=1)
optim_wrapper = dict(
    _delete_=True, type='OptimWrapper', optimizer=dict(type='Adam', lr=5e-4))
model = dict(
    _delete_=True,
    type='TopdownPoseEstimator',
    data_preprocessor=dict(
        type='PoseDataPreprocessor',
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        bgr_to_rgb=True),
    backbone=dict(type='ResNet', depth=18),
    head=dict(
        type='HeatmapHead',
        in_channels=512,
        out_channels={{_base_.num_keypoints}},
        loss=dict(type='KeypointMSELoss', use_target_weight=True),
        decoder=codec),
    test_cfg=dict(flip_test=True, flip_mode='heatmap', shift_heatmap=True))

train_pipeline = [
    dict(type='GenLocLoadImage'),
    dict(type='GetBBoxCenterScale'),
    dict(type='RandomFlip', direction='horizontal'),
    dict(type='RandomBBoxTransform', rotate_factor=30),
    dict(type='TopdownAffine', input_size=codec['input_size']),
    dict(type='GenerateTarget', encoder=codec),
    dict(type='PackPoseInputs')
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
