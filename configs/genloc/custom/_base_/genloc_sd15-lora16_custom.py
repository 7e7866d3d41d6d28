# Base recipe of the configs that tools/new_keypoints.py writes for --arch sd15: the
# paper's SD-1.5 recipe (the AP-10K config: frozen SD-1.5, LoRA r=16, CKHE + HEL,
# batch 25 x 8 accumulation, flip test) for any object of a COCO-keypoints export.
# What differs: CocoDataset with the set's own metainfo, and no RandomHalfBody (an
# arbitrary object has no upper / lower body). The fast data pipeline of the AP-10K
# config (decode at the crop's scale, the flip folded into the warp; docs/benchmarks.md).
# Each generated config states its data files, metainfo, input size, schedule and
# condition init (docs/custom_keypoints.md).
_base_ = ['../../ap10k/genloc_sd15-lora16_8xb25-100e_ap10k-256x256.py']

dataset_type = 'CocoDataset'
train_pipeline = [
    dict(type='GenLocLoadImage', reduced_decode=True, decode_cache_dir=None),
    dict(type='GetBBoxCenterScale'),
    dict(type='GenLocRandomFlip', direction='horizontal'),
    dict(type='RandomBBoxTransform'),
    dict(type='GenLocTopdownAffine', input_size={{_base_.codec.input_size}}),
    dict(type='GenerateTarget', encoder={{_base_.codec}}),
    dict(type='PackPoseInputs')
]
train_dataloader = dict(dataset=dict(type=dataset_type, pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(type=dataset_type))
test_dataloader = dict(dataset=dict(type=dataset_type))
