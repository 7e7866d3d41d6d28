"""GenLoc as a CVAT auto-annotation function (cvat-sdk's ``DetectionFunction``):

    cvat-cli task auto-annotate TASK_ID --function-module genloc_mmpose.labelling.cvat \\
        -p config=str:CONFIG -p checkpoint=str:CHECKPOINT [-p device=str:cuda] \\
        [-p label=str:NAME] [-p det_config=str:CFG -p det_checkpoint=str:PTH]

Its spec is one skeleton label (``label``, default the checkpoint's dataset name) with
a point sublabel per keypoint name, so the CVAT task needs a skeleton label of that
name and those points. Each frame gets one skeleton per object: the whole image, or
each box of an mmdet detector. A keypoint scoring under the threshold (cvat-cli's
``--conf-threshold``, else the model's own) is ``outside`` (left for the annotator).
"""
import os
import os.path as osp
import tempfile
from functools import cached_property
from typing import List, Optional

import cvat_sdk.auto_annotation as cvataa
import cvat_sdk.models as models
import PIL.Image


class GenLocFunction:
    """A GenLoc model (CONFIG + CHECKPOINT) as a CVAT detection function."""

    def __init__(self, config: str, checkpoint: str, device: Optional[str] = None,
                 label: Optional[str] = None, det_config: Optional[str] = None,
                 det_checkpoint: Optional[str] = None):
        from ..app.predict import DEFAULT_SCORE_THR, Predictor
        for what, path in (('config', config), ('checkpoint', checkpoint)):
            if not osp.isfile(path):
                raise FileNotFoundError(f'-p {what}=str:{path}: not a file.')
        self.predictor = Predictor(config, checkpoint, device=device,
                                   det_config=det_config, det_checkpoint=det_checkpoint)
        meta = self.predictor.model.dataset_meta
        self.label = label or meta.get('dataset_name') or 'object'
        self.score_thr = (DEFAULT_SCORE_THR if self.predictor.score_thr is None
                          else self.predictor.score_thr)
        self.source = 'detector' if det_config else 'whole image'

    @cached_property
    def spec(self) -> cvataa.DetectionFunctionSpec:
        return cvataa.DetectionFunctionSpec(labels=[cvataa.skeleton_label_spec(
            self.label, 0, [cvataa.keypoint_spec(name, k)
                            for k, name in enumerate(self.predictor.names)])])

    def detect(self, context: cvataa.DetectionFunctionContext,
               image: PIL.Image.Image) -> List[models.LabeledShapeRequest]:
        thr = self.score_thr if context.conf_threshold is None else context.conf_threshold
        with tempfile.TemporaryDirectory() as folder:
            path = osp.join(folder, 'frame.png')
            image.convert('RGB').save(path)
            pred = self.predictor.predict(path, source=self.source)
        return [cvataa.skeleton(0, elements=[
            cvataa.keypoint(k, [float(x), float(y)], outside=bool(score < thr))
            for k, ((x, y), score) in enumerate(zip(kpts, scores))])
            for kpts, scores in zip(pred.keypoints, pred.scores)]


create = GenLocFunction
