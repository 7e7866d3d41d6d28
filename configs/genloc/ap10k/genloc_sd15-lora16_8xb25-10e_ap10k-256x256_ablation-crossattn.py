# Cross-attention maps (eq. 6) instead of CKHE, with HEL (not a Table 1 row: the
# paper's "Cross Attention" row uses MSE, see *_ablation-crossattn-mse).
_base_ = ['./genloc_sd15-lora16_8xb25-10e_ap10k-256x256.py']

model = dict(backbone=dict(map_mode='cross_attention'))
