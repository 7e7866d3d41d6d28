# Table 1 "Only condition" row (60.1 AP): train the keypoint conditions only, the
# U-Net stays frozen (no LoRA).
_base_ = ['./genloc_sd15-lora16_8xb25-10e_ap10k-256x256.py']

model = dict(backbone=dict(lora=None))
