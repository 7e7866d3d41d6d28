# GenLoc ablation baseline on AP-10K (paper Table 1, "HEL" / "+ LoRA" / "No noise"
# rows: 73.3 AP): the main config (SD-1.5, LoRA r=16, CKHE + HEL, clean input)
# trained for the paper's ablation schedule of 10 epochs, LR steps scaled from the
# main config's [80, 95] of 100 epochs. The *_ablation-* configs change one part.
_base_ = ['./genloc_sd15-lora16_8xb25-100e_ap10k-256x256.py']

max_epochs = 10
train_cfg = dict(max_epochs=max_epochs, val_interval=max_epochs)
param_scheduler = [
    dict(type='LinearLR', begin=0, end=500, start_factor=0.001, by_epoch=False),
    dict(type='MultiStepLR', begin=0, end=max_epochs, milestones=[8, 9], gamma=0.1,
         by_epoch=True)
]
default_hooks = dict(checkpoint=dict(interval=max_epochs))
