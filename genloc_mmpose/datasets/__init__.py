"""Datasets for the GenLoc protocols: few-shot / family subsets of AP-10K, Human-Art
with its released (x1, y1, x2, y2) person detections; image loading that names bad
files."""
from .ap10k_subset import AP10KSubsetDataset
from .humanart_xyxy_det import HumanArtXYXYDetDataset
from .transforms import GenLocLoadImage, UnreadableImageError

__all__ = ['AP10KSubsetDataset', 'HumanArtXYXYDetDataset', 'GenLocLoadImage',
           'UnreadableImageError']
