# GenLoc zero-shot family transfer on AP-10K (paper Table 6, CLAMP protocol): train on
# the Bovidae species of ap10k-train-split1 only, evaluate on the Equidae species, never
# seen in training (val/test: Equidae of ap10k-val-split1 / ap10k-test-split1).
# Protocol, evaluation restricted to the target family and schedule: see the base.
_base_ = ['./genloc_sd15-lora16_8xb25-160e_ap10k-bovidae2canidae-256x256.py']

val_dataloader = dict(dataset=dict(families=['Equidae']))
test_dataloader = dict(dataset=dict(families=['Equidae']))
