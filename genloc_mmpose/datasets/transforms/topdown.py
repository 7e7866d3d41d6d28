"""The top-down flip and crop of MMPose, taking an :class:`EncodedImage`: the flip
recorded, then one warp from the JPEG decoded at the crop's scale."""
from typing import Optional

import cv2
import numpy as np
from mmpose.datasets.transforms import RandomFlip, TopdownAffine
from mmpose.registry import TRANSFORMS
from mmpose.structures.bbox import get_udp_warp_matrix, get_warp_matrix

from .decoding import REDUCED_FLAGS, EncodedImage


@TRANSFORMS.register_module()
class GenLocRandomFlip(RandomFlip):
    """MMPose's ``RandomFlip``; an :class:`EncodedImage` records the flip (applied
    in ``GenLocTopdownAffine``'s warp) instead of having its pixels flipped. The
    random draw, boxes, keypoints and metadata are ``RandomFlip``'s own."""

    def transform(self, results: dict) -> dict:
        img = results.get('img')
        if not isinstance(img, EncodedImage):
            return super().transform(results)
        results['img'] = np.zeros((1, 1, 3), np.uint8)  # a stand-in for imflip
        results = super().transform(results)
        results['img'] = img.flipped(results['flip_direction']) if results['flip'] else img
        return results


@TRANSFORMS.register_module()
class GenLocTopdownAffine(TopdownAffine):
    """MMPose's ``TopdownAffine``; an :class:`EncodedImage` is decoded at the
    coarsest JPEG scale 1/r (r = 1, 2, 4, 8, at most ``max_reduction``) at which
    the crop still spans at least ``input_size`` pixels (r <= bbox_scale /
    input_size), and that scale and any recorded flip are composed into the one
    warp. Keypoints, ``bbox_scale`` and the ``input_*`` keys are computed by
    ``TopdownAffine`` itself; only the source of the pixels changes.

    Args:
        input_size (tuple[int, int]): as ``TopdownAffine``.
        use_udp (bool): as ``TopdownAffine``.
        max_reduction (int): the largest r (1, 2, 4 or 8; 1: decode in full,
            flips still folded into the warp). Default 8.
    """

    def __init__(self, input_size, use_udp: bool = False, max_reduction: int = 8):
        super().__init__(input_size=input_size, use_udp=use_udp)
        if max_reduction not in REDUCED_FLAGS:
            raise ValueError('GenLocTopdownAffine max_reduction must be one of '
                             f'{tuple(REDUCED_FLAGS)}, got {max_reduction!r}')
        self.max_reduction = max_reduction

    def reduction(self, scale: np.ndarray) -> int:
        """The largest r <= max_reduction with scale / r >= input_size."""
        width, height = self.input_size
        ratio = min(float(scale[0]) / width, float(scale[1]) / height)
        factor = 1
        while factor * 2 <= self.max_reduction and factor * 2 <= ratio:
            factor *= 2
        return factor

    def transform(self, results: dict) -> Optional[dict]:
        img = results['img']
        if not isinstance(img, EncodedImage):
            return super().transform(results)
        results['img'] = []  # TopdownAffine warps each image of an empty list
        results = super().transform(results)
        width, height = self.input_size
        center, scale = results['input_center'], results['input_scale']
        rot = results['bbox_rotation'][0] if 'bbox_rotation' in results else 0.
        if self.use_udp:
            warp = get_udp_warp_matrix(center, scale, rot, output_size=(width, height))
        else:
            warp = get_warp_matrix(center, scale, rot, output_size=(width, height))
        factor = self.reduction(scale)
        try:
            src = img.decode(factor)
        except (OSError, ValueError) as err:
            results['img'] = img
            return img.loader.unreadable(img.path, err)
        matrix = np.vstack([warp, (0, 0, 1)]) @ img.matrix @ EncodedImage.scale_matrix(factor)
        results['img'] = cv2.warpAffine(src, matrix[:2], (int(width), int(height)),
                                        flags=cv2.INTER_LINEAR)
        results['reduced_decode_factor'] = factor
        return results

    def __repr__(self) -> str:
        return f'{super().__repr__()[:-1]}, max_reduction={self.max_reduction})'
