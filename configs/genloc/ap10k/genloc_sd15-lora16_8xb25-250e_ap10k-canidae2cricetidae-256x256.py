# GenLoc zero-shot family transfer on AP-10K (paper Table 6, CLAMP protocol): train on
# the Canidae species of ap10k-train-split1 only, evaluate on the Cricetidae species, never
# seen in training (val/test: Cricetidae of ap10k-val-split1 / ap10k-test-split1).
# Schedule: see the base; protocol: see genloc_..._ap10k-bovidae2canidae-256x256.py.
_base_ = ['./genloc_sd15-lora16_8xb25-250e_ap10k-canidae2felidae-256x256.py']

val_dataloader = dict(dataset=dict(families=['Cricetidae']))
test_dataloader = dict(dataset=dict(families=['Cricetidae']))
