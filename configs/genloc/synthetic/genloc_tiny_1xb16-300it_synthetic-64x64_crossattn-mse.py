# Synthetic check, cross-attention maps + MSE (the paper's Table 1 "Cross Attention"
# row is trained with MSE); LoRA as in the base config.
_base_ = ['./genloc_tiny_1xb16-300it_synthetic-64x64.py']

model = dict(
    backbone=dict(map_mode='cross_attention'),
    head=dict(loss=dict(_delete_=True, type='KeypointMSELoss', use_target_weight=True)))
