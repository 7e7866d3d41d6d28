# COCO-WholeBody with ground-truth person boxes at test time (the detection-free
# protocol, as the Human-Art config): the same model and checkpoint as
# genloc_sd15-lora16_8xb25-14e_coco-wholebody-256x192.py.
_base_ = ['./genloc_sd15-lora16_8xb25-14e_coco-wholebody-256x192.py']

val_dataloader = dict(dataset=dict(bbox_file=None))
test_dataloader = val_dataloader
