from .genloc_heatmap import GenLocHeatmap

__all__ = ['GenLocHeatmap']
