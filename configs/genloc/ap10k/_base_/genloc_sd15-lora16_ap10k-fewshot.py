# GenLoc few-shot on AP-10K (paper Table 5; paper numbers: docs/experiments.md),
# ScarceNet protocol: train on the images of ap10k-train-split1 listed in
# data/ap10k_fewshot/annotation_list_{shots}.json (ScarceNet's list; a repeated id
# counts once), evaluate on the whole ap10k-val-split1 (val and test alike). Only the
# labelled images are used (no unlabelled data). The recipe is the main AP-10K config's.
#
# Each shot count's config (genloc_sd15-lora16_8xb25-<E>e_ap10k-fewshot<N>-256x256.py)
# sets `shots` and the schedule: E = 100 x 25 / N epochs (rounded), i.e. about the same
# number of updates (~800 optimizer steps at batch 200) for every N, the 25-shot run
# keeping the main config's 100 epochs (a fixed 100 epochs would give the 5-shot run
# only ~150 updates at batch 200); LR steps at 80 % and 95 % of training as in the
# main config.
_base_ = ['../genloc_sd15-lora16_8xb25-100e_ap10k-256x256.py']
custom_imports = dict(imports=['genloc_mmpose', 'genloc_mmpose.datasets'],
                      allow_failed_imports=False)

train_dataloader = dict(dataset=dict(type='AP10KSubsetDataset'))
test_dataloader = dict(dataset=dict(ann_file='annotations/ap10k-val-split1.json'))
data_root = 'data/ap10k/'
test_evaluator = dict(ann_file=data_root + 'annotations/ap10k-val-split1.json')
