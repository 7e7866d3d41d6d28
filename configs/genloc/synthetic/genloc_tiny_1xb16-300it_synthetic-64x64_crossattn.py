# Synthetic check, cross-attention maps (eq. 6: softmax over the keypoint
# conditions) instead of CKHE; HEL, LoRA as in the base config.
_base_ = ['./genloc_tiny_1xb16-300it_synthetic-64x64.py']

model = dict(backbone=dict(map_mode='cross_attention'))
