# GenLoc few-shot on AP-10K, 5 labelled images per species (paper Table 5): the
# protocol and the schedule rule are in _base_/genloc_sd15-lora16_ap10k-fewshot.py.
_base_ = ['./_base_/genloc_sd15-lora16_ap10k-fewshot.py']

shots = 5
max_epochs = 500  # ~100 x 25 / shots
train_cfg = dict(max_epochs=max_epochs, val_interval=50)
param_scheduler = [
    dict(type='LinearLR', begin=0, end=500, start_factor=0.001, by_epoch=False),
    dict(type='MultiStepLR', begin=0, end=max_epochs, gamma=0.1, by_epoch=True,
         milestones=[round(0.8 * max_epochs), round(0.95 * max_epochs)])
]
default_hooks = dict(checkpoint=dict(interval=50))
train_dataloader = dict(
    dataset=dict(img_ids_file=f'data/ap10k_fewshot/annotation_list_{shots}.json'))
