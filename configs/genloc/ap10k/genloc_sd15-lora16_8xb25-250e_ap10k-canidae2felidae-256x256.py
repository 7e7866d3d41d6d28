# GenLoc zero-shot family transfer on AP-10K (paper Table 6, CLAMP protocol): train on
# the Canidae species of ap10k-train-split1 only, evaluate on the Felidae species,
# never seen in training (val: Felidae of ap10k-val-split1, test: Felidae of
# ap10k-test-split1).
#
# Evaluation is restricted to the target family: AP10KSubsetDataset keeps only Felidae
# images/instances/categories and, in test mode, hands that subset to
# CocoMetric(ann_file=None) (see genloc_mmpose/datasets/ap10k_subset.py). A CocoMetric
# given the full split file would count every other family as missed.
#
# Schedule: 250 epochs, the few-shot rule (about as many updates as 100 epochs of the
# 1247-image 25-shot set: epochs ~ 100 x 1247 / #train images) for the ~500 Canidae
# train images (4 species; an estimate: rescale if yours differ). LR steps at 80% and
# 95% of training.
_base_ = ['./genloc_sd15-lora16_8xb25-160e_ap10k-bovidae2canidae-256x256.py']

max_epochs = 250
train_cfg = dict(max_epochs=max_epochs, val_interval=25)
param_scheduler = [
    dict(type='LinearLR', begin=0, end=500, start_factor=0.001, by_epoch=False),
    dict(type='MultiStepLR', begin=0, end=max_epochs, milestones=[200, 238], gamma=0.1,
         by_epoch=True)
]
default_hooks = dict(checkpoint=dict(interval=25))

train_dataloader = dict(dataset=dict(families=['Canidae']))
val_dataloader = dict(dataset=dict(families=['Felidae']))
test_dataloader = dict(dataset=dict(families=['Felidae']))
