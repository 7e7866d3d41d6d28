"""Procedurally drawn keypoint data: the marker creatures (:mod:`.markers`; the
miniature SD's creature world is :mod:`genloc_mmpose.mini_sd.world`)."""
