"""The inference graph: ONNX export (checked with ONNX Runtime), jit tracing and
MMPose's get_flops.py."""
import os
import re
import subprocess
import sys

import numpy as np
import pytest
import torch

from conftest import REPO, TINY_CONFIG


@pytest.fixture(scope='module')
def tiny_model():
    from mmpose.apis import init_model
    torch.manual_seed(0)
    model = init_model(TINY_CONFIG, None, device='cpu')
    # the flip-test path with a real left/right swap (COCO's flip indices)
    from mmpose.datasets.datasets.utils import parse_pose_metainfo
    meta = parse_pose_metainfo(dict(from_file='configs/_base_/datasets/coco.py'))
    return model, meta['flip_indices']


def _crops(batch, seed=0):
    return torch.rand(batch, 3, 128, 96, generator=torch.Generator().manual_seed(seed)) * 2 - 1


def test_graph_with_flip_equals_the_estimators_flip_test(tiny_model):
    from mmpose.models.utils.tta import flip_heatmaps
    from genloc_mmpose.export import HeatmapGraph
    model, flip_indices = tiny_model
    inputs = _crops(2)
    with torch.no_grad():
        graph = HeatmapGraph(model, flip_indices).eval()(inputs)
        plain = model.head(model.backbone(inputs))
        mirrored = model.head(model.backbone(inputs.flip(-1)))
    expected = (plain + flip_heatmaps(mirrored, flip_indices=flip_indices,
                                      shift_heatmap=False)) / 2
    torch.testing.assert_close(graph, expected, rtol=1e-5, atol=1e-7)


@pytest.mark.slow
def test_onnx_export_matches_pytorch(tiny_model, tmp_path):
    """The exported graph (flip test inside, dynamic batch) under ONNX Runtime gives
    PyTorch's maps, and the same decoded keypoints."""
    ort = pytest.importorskip('onnxruntime')
    from genloc_mmpose.export import export_onnx
    model, flip_indices = tiny_model
    path = str(tmp_path / 'tiny.onnx')
    graph = export_onnx(model, path, model.head.decoder.input_size, flip_indices)
    session = ort.InferenceSession(path, providers=['CPUExecutionProvider'])
    inputs = _crops(3, seed=1)  # another batch size than the export's example
    with torch.no_grad():
        expected = graph(inputs)
    got = session.run(None, {'inputs': inputs.numpy()})[0]
    assert got.shape == (3, 17, 64, 48)
    # relative to the maps' scale: float32 kernels of two runtimes
    assert np.abs(got - expected.numpy()).max() < 1e-5 * expected.abs().max().item()
    codec = model.head.decoder
    kpts, scores = codec.batch_decode(torch.from_numpy(got))
    ref_kpts, ref_scores = codec.batch_decode(expected)
    # random weights: near-flat maps, where DARK's Newton step magnifies 1e-6
    # differences; still hundredths of a pixel
    np.testing.assert_allclose(np.stack(kpts), np.stack(ref_kpts), atol=0.05)
    np.testing.assert_allclose(np.stack(scores), np.stack(ref_scores), atol=1e-5)


def test_jit_trace_matches_eager(tiny_model):
    from genloc_mmpose.export import HeatmapGraph
    model, _ = tiny_model
    graph = HeatmapGraph(model).eval()
    with torch.no_grad():
        traced = torch.jit.trace(graph, _crops(2), check_trace=False)
        inputs = _crops(4, seed=2)
        torch.testing.assert_close(traced(inputs), graph(inputs))


def _flops(*args):
    proc = subprocess.run(
        [sys.executable, 'tools/analysis_tools/get_flops.py', TINY_CONFIG, *args],
        cwd=REPO, capture_output=True, text=True, timeout=300,
        env=dict(os.environ, OMP_NUM_THREADS='1'))
    assert proc.returncode == 0, proc.stderr[-3000:]
    value, unit = re.search(r'Flops: ([\d.]+)([KMGT]?)', proc.stdout).groups()
    return float(value) * {'': 1, 'K': 1e3, 'M': 1e6, 'G': 1e9, 'T': 1e12}[unit]


@pytest.mark.slow
def test_get_flops_counts_genloc():
    """MMPose's get_flops.py traces GenLoc (it failed on a traced round()); every
    counted op (convs, linears, attention matmuls) scales with the pixels: 4x the
    pixels, 4x the FLOPs."""
    small = _flops('--input-shape', '128', '96')
    large = _flops('--input-shape', '256', '192')
    assert small > 1e8
    assert large / small == pytest.approx(4.0, rel=0.02)
