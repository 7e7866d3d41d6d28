# GenLoc few-shot on AP-10K (paper Table 5, 10 labelled images per species; paper:
# see docs/experiments.md), ScarceNet protocol: train on the images of
# ap10k-train-split1 listed in data/ap10k_fewshot/annotation_list_10.json (ScarceNet's
# list; a repeated id counts once), evaluate on the whole ap10k-val-split1 (val and
# test alike). Only the labelled images are used (no unlabelled data).
#
# Schedule: 250 epochs = 100 x 25 / 10, i.e. about the same number of updates (~800
# optimizer steps at batch 200) for every N, the 25-shot run keeping the main
# config's 100 epochs; a fixed 100 epochs would give the 5-shot run only ~150
# updates at batch 200. LR steps at 80% and 95% of training as in the main config.
_base_ = ['./genloc_sd15-lora16_8xb25-100e_ap10k-256x256.py']
custom_imports = dict(imports=['genloc_mmpose', 'genloc_mmpose.datasets'],
                      allow_failed_imports=False)

max_epochs = 250
train_cfg = dict(max_epochs=max_epochs, val_interval=25)
param_scheduler = [
    dict(type='LinearLR', begin=0, end=500, start_factor=0.001, by_epoch=False),
    dict(type='MultiStepLR', begin=0, end=max_epochs, milestones=[200, 238], gamma=0.1,
         by_epoch=True)
]
default_hooks = dict(checkpoint=dict(interval=25))

train_dataloader = dict(
    dataset=dict(
        type='AP10KSubsetDataset',
        img_ids_file='data/ap10k_fewshot/annotation_list_10.json'))
test_dataloader = dict(dataset=dict(ann_file='annotations/ap10k-val-split1.json'))
data_root = 'data/ap10k/'
test_evaluator = dict(ann_file=data_root + 'annotations/ap10k-val-split1.json')
