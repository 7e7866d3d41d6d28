"""The inference graph of a GenLoc model, for export (ONNX) and tracing.

:class:`HeatmapGraph` is what ``predict`` computes up to the decode: crops
(B, 3, H, W) in [-1, 1] -> fused correlation maps (B, K, H/s, W/s), with the flip
test inside the graph when asked. The decode (argmax + DARK, scores) and the
back-projection to image pixels stay in Python: ``GenLocHeatmap.batch_decode`` on
the exported graph's output gives what ``tools/test.py`` gives.
"""
from typing import Optional, Sequence

import torch
from torch import Tensor, nn

from .models.estimator import maps_with_mirrors


class HeatmapGraph(nn.Module):
    """Backbone + head forward of a GenLoc pose estimator.

    Args:
        model: a top-down estimator with a GenLocBackbone and a CorrelationMapHead.
        flip_indices (list[int], optional): With them, the mirrored crops run in
            the same batch and their un-flipped maps are averaged in (the flip
            test as ``BatchFlipTopdownPoseEstimator`` runs it).
    """

    def __init__(self, model: nn.Module, flip_indices: Optional[Sequence[int]] = None):
        super().__init__()
        self.backbone = model.backbone
        self.head = model.head
        self.flip_indices = None if flip_indices is None else list(flip_indices)

    def forward(self, inputs: Tensor) -> Tensor:
        """(B, 3, H, W) in [-1, 1] -> fused maps (B, K, H/s, W/s), each summing to 1."""
        if self.flip_indices is None:
            return self.head(self.backbone(inputs))
        maps, mirrored = maps_with_mirrors(self.backbone, inputs)
        heatmaps = self.head(maps)
        flipped = self.head(mirrored).flip(-1)[:, self.flip_indices]
        return (heatmaps + flipped) * 0.5


def export_onnx(model: nn.Module, path: str, input_size: Sequence[int],
                flip_indices: Optional[Sequence[int]] = None,
                batch_size: int = 1) -> HeatmapGraph:
    """Export the inference graph to ONNX (``torch.onnx.export``, dynamo exporter)
    with a dynamic batch dimension; input ``inputs`` (B, 3, H, W), output
    ``heatmaps``. Needs the ``onnx`` and ``onnxscript`` packages.

    ``input_size`` is (W, H), as the codec's. Returns the exported module (eval).
    """
    try:
        import onnxscript  # noqa: F401
    except ImportError as exc:
        raise ImportError('ONNX export needs the onnx and onnxscript packages: '
                          'pip install onnx onnxscript onnxruntime') from exc
    graph = HeatmapGraph(model, flip_indices).eval()
    width, height = input_size
    example = torch.rand(batch_size, 3, height, width) * 2 - 1
    with torch.no_grad():
        torch.onnx.export(graph, (example, ), path, dynamo=True, input_names=['inputs'],
                          output_names=['heatmaps'],
                          dynamic_shapes={'inputs': {0: torch.export.Dim('batch')}})
    return graph
