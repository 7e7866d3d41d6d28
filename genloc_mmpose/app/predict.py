"""One loaded GenLoc model for the app: keypoints through ``MMPoseInferencer``'s own
preprocess / forward / visualizer, plus the maps behind them.

The fused map of each keypoint is the head's output (``test_cfg.output_heatmaps``,
flip-averaged with the flip test); the per-layer CKHE maps are what
``model.backbone`` returns in the same forward pass (a forward hook, no second pass).
"""
import os.path as osp
import threading
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import lru_cache
from typing import List, Optional, Sequence, Tuple

import numpy as np
import torch
from mmengine.config import Config

SOURCES = ('whole image', 'my boxes', 'detector')
DEFAULT_SCORE_THR = 0.3  # MMPose's kpt_thr, for checkpoints without their own


@dataclass
class Prediction:
    """Predictions for N boxes of one image with K keypoints.

    keypoints (N, K, 2) and bboxes (N, 4) are x1, y1, x2, y2 in image pixels;
    scores (N, K); maps (N, K, H, W) fused correlation maps over the crop (heatmap
    size), each summing to 1; layer_maps one (N, K, h_l, w_l) array per CKHE layer
    (the crops, without the flip average); crops (N, h, w, 3) RGB uint8 model inputs;
    crop_keypoints (N, K, 2) in crop pixels; drawing (H_img, W_img, 3) RGB uint8 by
    MMPose's visualizer.
    """
    image_path: str
    names: List[str]
    keypoints: np.ndarray
    scores: np.ndarray
    bboxes: np.ndarray
    maps: np.ndarray
    crops: np.ndarray
    crop_keypoints: np.ndarray
    drawing: np.ndarray
    layer_maps: List[np.ndarray] = field(default_factory=list)


def _device(device: Optional[str]) -> str:
    return device or ('cuda' if torch.cuda.is_available() else 'cpu')


def text_encoder_folder(cfg: Config) -> Optional[str]:
    """The folder holding SD's ``text_encoder/`` and ``tokenizer/`` for a config's
    backbone (``text_encoder``, else ``pretrained``), or None."""
    from ..custom_keypoints import has_text_encoder
    backbone = cfg.model.backbone
    folder = backbone.get('text_encoder') or backbone.get('pretrained')
    return folder if folder and osp.isdir(folder) and has_text_encoder(folder) else None


def stored_score_thr(checkpoint: str) -> Optional[float]:
    """The keypoint-score threshold chosen on the model's validation images and stored
    in its checkpoint (:func:`genloc_mmpose.evaluation.calibrate_score_threshold`),
    or None."""
    from ..evaluation.score_threshold import SCORE_THR_KEY
    meta = torch.load(checkpoint, map_location='cpu').get('meta') or {}  # as mmengine loads it
    thr = meta.get(SCORE_THR_KEY)
    return None if thr is None else float(thr)


class Predictor:
    """A GenLoc model (CONFIG + CHECKPOINT) behind ``MMPoseInferencer``.

    Args:
        config (str): MMPose config; ``model.backbone.compile`` is switched off (one
            image at a time does not pay for compiling).
        checkpoint (str): The checkpoint (carries ``dataset_meta``).
        device (str, optional): ``'cpu'`` / ``'cuda'``; default cuda when available.
        det_config, det_checkpoint (str, optional): An mmdet detector for the
            ``'detector'`` box source; ``det_cat_ids`` its classes to keep.
    """

    def __init__(self, config: str, checkpoint: str, device: Optional[str] = None,
                 det_config: Optional[str] = None, det_checkpoint: Optional[str] = None,
                 det_cat_ids: Sequence[int] = (0, )):
        from mmpose.apis import MMPoseInferencer  # (GenLoc registered by genloc_mmpose)
        self.config, self.checkpoint = config, checkpoint
        self.device = _device(device)
        cfg = Config.fromfile(config)
        if 'compile' in cfg.model.backbone:
            cfg.model.backbone.compile = False
        self.text_folder = text_encoder_folder(cfg)
        inferencer = MMPoseInferencer(
            pose2d=cfg, pose2d_weights=checkpoint, device=self.device,
            det_model=det_config or 'whole_image', det_weights=det_checkpoint,
            det_cat_ids=tuple(det_cat_ids))
        self.inferencer = inferencer.inferencer  # mmpose's Pose2DInferencer
        self.detector = self.inferencer.detector
        self.model = self.inferencer.model
        self.model.test_cfg['output_heatmaps'] = True  # the fused maps
        self.default_flip = bool(self.model.test_cfg.get('flip_test', False))
        self.score_thr = stored_score_thr(checkpoint)
        self._lock = threading.RLock()  # predict_by_name holds it across predict
        self._layer_maps = None
        self.model.backbone.register_forward_hook(self._keep_layer_maps)

    @property
    def names(self) -> List[str]:
        meta = self.model.dataset_meta
        return [meta['keypoint_id2name'][i] for i in range(meta['num_keypoints'])]

    @property
    def sources(self) -> Tuple[str, ...]:
        return SOURCES if self.detector is not None else SOURCES[:2]

    def _keep_layer_maps(self, module, inputs, output):
        """The backbone's first call of a prediction: the crops (mmpose's flip test
        runs the mirrored crops second; the batched one appends them)."""
        if self._layer_maps is None:
            self._layer_maps = [m.detach().float().cpu().numpy() for m in output]

    def predict(self, image_path: str, boxes: Optional[np.ndarray] = None,
                source: str = 'whole image', flip_test: Optional[bool] = None,
                kpt_thr: float = 0.3, bbox_thr: float = 0.3) -> Prediction:
        """Keypoints and maps of one image.

        ``source``: ``'whole image'`` (one box: the image), ``'my boxes'`` (``boxes``
        (N, 4) x1, y1, x2, y2 in image pixels) or ``'detector'`` (boxes of score >
        ``bbox_thr``). ``kpt_thr`` only affects the drawing.
        """
        if source not in self.sources:
            raise ValueError(f'box source {source!r}: one of {self.sources} (a detector '
                             'needs --det-config and --det-checkpoint).')
        if source == 'my boxes' and (boxes is None or len(boxes) == 0):
            raise ValueError('No box given: draw or type a box, or use the whole image.')
        bboxes = [np.asarray(boxes, np.float32)] if source == 'my boxes' else None
        with self._lock:
            self.inferencer.detector = self.detector if source == 'detector' else None
            flip = self.default_flip if flip_test is None else bool(flip_test)
            self.model.test_cfg['flip_test'] = flip
            try:
                data, _ = next(self.inferencer.preprocess(
                    [image_path], bboxes=bboxes, bbox_thr=bbox_thr))
                self._layer_maps = None
                samples = self.inferencer.forward(data, merge_results=False,
                                                  bbox_thr=bbox_thr)
                layers = self._layer_maps
            finally:
                self.inferencer.detector = self.detector
                self.model.test_cfg['flip_test'] = self.default_flip
            return self._collect(image_path, data, samples, layers, kpt_thr)

    def _collect(self, image_path, data, samples, layers, kpt_thr) -> Prediction:
        from mmpose.structures import merge_data_samples
        num = len(samples)
        # the crops the model saw: TopdownAffine outputs (3, h, w) BGR uint8
        crops = np.stack([x.permute(1, 2, 0).numpy()[..., ::-1] for x in data['inputs']])
        maps = np.stack([s.pred_fields.heatmaps.cpu().numpy() for s in samples])
        crop_kpts = []
        for s in samples:
            center, scale = s.metainfo['input_center'], s.metainfo['input_scale']
            size = np.array(s.metainfo['input_size'], np.float32)
            crop_kpts.append((s.pred_instances.keypoints[0] - center) / scale * size
                             + size / 2)
            del s.pred_fields  # not pasted back into the image (merge) for the drawing
        merged = merge_data_samples(samples)
        # visible at the page's ~500-px view: 4 px on a 256-px image, 1 % of large ones
        radius = max(4, round(max(merged.metainfo['ori_shape']) / 100))
        drawing = self.inferencer.visualize(
            [image_path], [merged], return_vis=True, draw_bbox=True, kpt_thr=kpt_thr,
            radius=radius, thickness=max(1, radius // 2))[0]
        inst = merged.pred_instances
        return Prediction(
            image_path=image_path, names=self.names, keypoints=inst.keypoints,
            scores=inst.keypoint_scores, bboxes=inst.bboxes, maps=maps, crops=crops,
            crop_keypoints=np.stack(crop_kpts), drawing=drawing,
            layer_maps=[m[:num] for m in layers])

    @contextmanager
    def named_keypoints(self, names: Sequence[str], object_name: str):
        """Within the block the model localises ``names``: conditions from SD's text
        encoder (``"the {object}'s {name}"``, no training) through the U-Net without
        its LoRA (the Stable Diffusion prior as loaded); metainfo from the names
        (flip pairs inferred). Holds the model's lock."""
        from mmpose.datasets.datasets.utils import parse_pose_metainfo

        from ..datasets.keypoint_metainfo import metainfo_from_coco
        if self.text_folder is None:
            raise ValueError(f'{self.config}: the model weights hold no text_encoder/ and '
                             'tokenizer/ (model.backbone.pretrained or .text_encoder), so '
                             'keypoints cannot be found by name. Use a model on Stable '
                             'Diffusion weights with its text encoder (the demo model, '
                             'SD-1.5 with text_encoder/).')
        backbone = self.model.backbone
        conditions = _text_conditions(tuple(names), object_name, self.text_folder,
                                      backbone.unet.config.cross_attention_dim)
        meta = parse_pose_metainfo(metainfo_from_coco(names, [], 'by_name'))
        with self._lock:
            saved = backbone.conditions, self.model.dataset_meta
            lora = getattr(backbone.unet, '_hf_peft_config_loaded', False)
            backbone.conditions = torch.nn.Parameter(
                conditions.to(saved[0].device), requires_grad=False)
            self.model.dataset_meta = meta
            self.inferencer.visualizer.set_dataset_meta(meta)
            if lora:
                backbone.unet.disable_adapters()
            try:
                yield
            finally:
                if lora:
                    backbone.unet.enable_adapters()
                backbone.conditions = saved[0]
                self.model.dataset_meta = saved[1]
                self.inferencer.visualizer.set_dataset_meta(saved[1])

    def predict_by_name(self, names: Sequence[str], object_name: str, image_path: str,
                        **kwargs) -> Prediction:
        """:meth:`predict` for keypoints given by name (:meth:`named_keypoints`)."""
        with self.named_keypoints(names, object_name):
            return self.predict(image_path, **kwargs)


@lru_cache(maxsize=16)
def _text_conditions(names: Tuple[str, ...], object_name: str, folder: str,
                     width: int) -> torch.Tensor:
    """(K, width) conditions from the names (cached: the encoder loads once per
    query)."""
    from ..models.text_conditions import text_conditions
    with torch.no_grad():
        return text_conditions(list(names), object_name, folder, width)
