# Synthetic check, conditions only: the random U-Net stays frozen (no LoRA); CKHE,
# HEL as in the base config.
_base_ = ['./genloc_tiny_1xb16-300it_synthetic-64x64.py']

model = dict(backbone=dict(lora=None))
