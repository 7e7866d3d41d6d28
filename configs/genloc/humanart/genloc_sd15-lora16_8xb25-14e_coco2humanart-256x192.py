# Cross-domain (paper Table 4: 67.0 AP): a COCO-trained GenLoc tested on Human-Art val,
# with ground-truth person boxes, as Table 4's baselines (its HRNet 53.4 AP is mmpose's
# COCO-trained HRNet-w32 on Human-Art with ground-truth boxes, 0.533).
# python tools/test.py THIS_CONFIG work_dirs/<coco run>/epoch_14.pth
#
# With Human-Art's released detections instead (their boxes are x1, y1, x2, y2, which
# HumanArtDataset would read as x, y, w, h):
#   --cfg-options test_dataloader.dataset.type=HumanArtXYXYDetDataset \
#     test_dataloader.dataset.bbox_file=data/HumanArt/person_detection_results/HumanArt_validation_detections_AP_H_56_person.json
_base_ = ['../coco/genloc_sd15-lora16_8xb25-14e_coco-256x192.py']

data_root = 'data/'
dataset_type = 'HumanArtDataset'

val_dataloader = dict(
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        ann_file='HumanArt/annotations/validation_humanart.json',
        bbox_file=None,
        data_prefix=dict(img='')))
test_dataloader = val_dataloader
val_evaluator = dict(
    type='CocoMetric', ann_file=data_root + 'HumanArt/annotations/validation_humanart.json')
test_evaluator = val_evaluator
