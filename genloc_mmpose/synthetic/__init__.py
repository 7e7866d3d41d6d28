"""Procedurally drawn keypoint data: the marker creatures (:mod:`.markers`) and the
miniature SD's creature world with its captions (:mod:`.creatures`)."""
