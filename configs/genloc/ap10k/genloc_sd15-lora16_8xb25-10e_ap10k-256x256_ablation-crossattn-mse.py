# Table 1 "Cross Attention" row (60.9 AP): maps from the U-Net's own cross-attention
# (softmax over the keypoint conditions, eq. 6) instead of CKHE. In Table 1 the
# heatmap-generation rows are trained with the MSE loss: the "CKHE" row equals the
# "MSE Loss" row (70.7), so this config also uses MSE; compare it with *_ablation-mse.
_base_ = ['./genloc_sd15-lora16_8xb25-10e_ap10k-256x256.py']

model = dict(
    backbone=dict(map_mode='cross_attention'),
    head=dict(loss=dict(_delete_=True, type='KeypointMSELoss', use_target_weight=True)))
