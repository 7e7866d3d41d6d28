# GenLoc few-shot on AP-10K, 25 labelled images per species (paper Table 5): the
# protocol and the schedule rule are in _base_/genloc_sd15-lora16_ap10k-fewshot.py.
_base_ = ['./_base_/genloc_sd15-lora16_ap10k-fewshot.py']

shots = 25
max_epochs = 100  # ~100 x 25 / shots
train_cfg = dict(max_epochs=max_epochs, val_interval=10)
param_scheduler = [
    dict(type='LinearLR', begin=0, end=500, start_factor=0.001, by_epoch=False),
    dict(type='MultiStepLR', begin=0, end=max_epochs, gamma=0.1, by_epoch=True,
         milestones=[round(0.8 * max_epochs), round(0.95 * max_epochs)])
]
default_hooks = dict(checkpoint=dict(interval=10))
train_dataloader = dict(
    dataset=dict(img_ids_file=f'data/ap10k_fewshot/annotation_list_{shots}.json'))
