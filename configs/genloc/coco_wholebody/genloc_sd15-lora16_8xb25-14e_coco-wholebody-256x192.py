# GenLoc on COCO-WholeBody (133 keypoints: body 17, feet 6, face 68, hands 42): the
# COCO recipe (14 epochs, SD-1.5, LoRA r=16, one condition per keypoint) with
# MMPose's CocoWholeBodyDataset and CocoWholeBodyMetric (body / foot / face / hand /
# whole-body AP). Tested with the usual person detections, as the COCO config; the
# *_gt-bbox.py variant tests with ground-truth boxes. Not trained here (no SD
# weights, no dataset): published whole-body AP for context, not ours: RTMW-x 70.2,
# Sapiens-2B 72.7, ViTPose++-H 61.2 (docs/experiments.md).
_base_ = ['../coco/genloc_sd15-lora16_8xb25-14e_coco-256x192.py']

data_root = 'data/coco/'
dataset_type = 'CocoWholeBodyDataset'
num_keypoints = 133

model = dict(
    backbone=dict(
        num_keypoints=num_keypoints,
        # for condition_init='text': the 68 face landmarks are named by their place
        # in the 300-W layout ("right eye outer corner"; keypoint_names.FACE68)
        keypoint_names=dict(from_file='configs/_base_/datasets/coco_wholebody.py')))

train_dataloader = dict(
    dataset=dict(type=dataset_type, ann_file='annotations/coco_wholebody_train_v1.0.json'))
val_dataloader = dict(
    dataset=dict(type=dataset_type, ann_file='annotations/coco_wholebody_val_v1.0.json'))
test_dataloader = val_dataloader
val_evaluator = dict(
    _delete_=True,
    type='CocoWholeBodyMetric',
    ann_file=data_root + 'annotations/coco_wholebody_val_v1.0.json')
test_evaluator = val_evaluator
