# Table 1 "CKHE" / "MSE Loss" rows (70.7 AP): CKHE maps trained with MSE against the
# Gaussian targets instead of the Heatmap Expectation Loss.
_base_ = ['./genloc_sd15-lora16_8xb25-10e_ap10k-256x256.py']

model = dict(
    head=dict(loss=dict(_delete_=True, type='KeypointMSELoss', use_target_weight=True)))
