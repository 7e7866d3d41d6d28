# Synthetic check, MSE against the Gaussian targets instead of HEL; CKHE, LoRA as in
# the base config.
_base_ = ['./genloc_tiny_1xb16-300it_synthetic-64x64.py']

model = dict(
    head=dict(loss=dict(_delete_=True, type='KeypointMSELoss', use_target_weight=True)))
