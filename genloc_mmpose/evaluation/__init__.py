from .score_threshold import KeypointScoreThreshold, calibrate_score_threshold

__all__ = ['KeypointScoreThreshold', 'calibrate_score_threshold']
