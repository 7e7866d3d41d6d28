"""GenLocHeatmap codec and CorrelationMapHead, against the mmpose head contract."""
import numpy as np
import pytest
import torch
from mmpose.models.utils.tta import flip_heatmaps
from mmpose.testing import get_packed_inputs

from genloc_mmpose.codecs import GenLocHeatmap
from genloc_mmpose.models import CorrelationMapHead

CODEC = dict(type='GenLocHeatmap', input_size=(192, 256), heatmap_size=(48, 64), sigma=2)


def _head():
    return CorrelationMapHead(decoder=CODEC)


def _samples(batch_size=2, num_keypoints=17):
    packed = get_packed_inputs(batch_size=batch_size, num_keypoints=num_keypoints,
                               input_size=(192, 256), heatmap_size=(48, 64),
                               with_reg_label=False, with_simcc_label=False)
    samples = packed['data_samples']
    for s in samples:
        s.set_metainfo(dict(flip_indices=list(range(num_keypoints))))
    return samples


def _layer_maps(batch_size=2, num_keypoints=17):
    torch.manual_seed(0)
    return tuple(
        torch.rand(batch_size, num_keypoints, h, w).flatten(2).softmax(-1).view(
            batch_size, num_keypoints, h, w) for h, w in [(8, 6), (16, 12), (32, 24)])


def test_codec_round_trip_on_cell_centers():
    codec = GenLocHeatmap(input_size=(192, 256), heatmap_size=(48, 64), sigma=2)
    cells = np.array([[[3, 5], [40, 60], [0, 0]]], dtype=np.float32)
    keypoints = (cells + 0.5) * 4 - 0.5  # cell centers in input pixels
    encoded = codec.encode(keypoints, np.ones((1, 3)))
    assert encoded['heatmaps'].shape == (3, 64, 48)
    assert encoded['heatmaps'].max() == 1.0  # un-normalised Gaussian, peak 1
    maps = encoded['heatmaps'] / encoded['heatmaps'].sum((1, 2), keepdims=True)
    decoded, scores = codec.decode(maps)
    np.testing.assert_allclose(decoded, keypoints, atol=1e-3)
    # score = sum_j C[j] G[j] with G the same Gaussian: sum G^2 / sum G
    g = encoded['heatmaps'][1]
    np.testing.assert_allclose(scores[0, 1], (g**2).sum() / g.sum(), rtol=1e-5)
    assert 0.2 < scores[0, 1] < 1


def test_codec_flip_is_a_mirror():
    """A horizontally flipped keypoint encodes to the mirrored map: no shift needed."""
    codec = GenLocHeatmap(input_size=(192, 256), heatmap_size=(48, 64), sigma=2)
    kpts = np.array([[[17.3, 100.2]]], dtype=np.float32)
    flipped = kpts.copy()
    flipped[..., 0] = 192 - 1 - flipped[..., 0]
    a = codec.encode(kpts)['heatmaps']
    b = codec.encode(flipped)['heatmaps']
    np.testing.assert_allclose(a, b[..., ::-1], atol=1e-6)


def test_head_forward_fuses_to_distribution():
    maps = _layer_maps()
    fused = _head()(maps)
    assert fused.shape == (2, 17, 64, 48)
    torch.testing.assert_close(fused.sum((-2, -1)), torch.ones(2, 17))
    # same as an independent resize-renormalise-average
    ref = sum(m / m.sum((-2, -1), keepdim=True) for m in (
        torch.nn.functional.interpolate(x, size=(64, 48), mode='bilinear') for x in maps)) / 3
    torch.testing.assert_close(fused, ref)


@pytest.mark.parametrize('sizes,heatmap', [
    ([(8, 6)] * 3 + [(16, 12)] * 3 + [(32, 24)] * 3, (64, 48)),  # SD-1.5 at 256x192
    ([(32, 24)] * 2 + [(64, 48)] * 2, (64, 48)),  # the tiny config: one size is the output
    ([(5, 7), (10, 14), (5, 7)], (13, 11)),  # non-integer ratios
])
def test_head_fusion_equals_per_layer_resize(sizes, heatmap):
    """The grouped fusion (one resize per map size) equals resizing every layer,
    renormalising and averaging, for K = 133."""
    torch.manual_seed(0)
    maps = tuple(torch.rand(2, 133, h, w).flatten(2).softmax(-1).view(2, 133, h, w)
                 for h, w in sizes)
    head = CorrelationMapHead(decoder=dict(CODEC, heatmap_size=heatmap[::-1],
                                           input_size=(heatmap[1] * 4, heatmap[0] * 4)))
    resized = [torch.nn.functional.interpolate(m.double(), size=heatmap, mode='bilinear')
               for m in maps]
    ref = sum(m / m.sum((-2, -1), keepdim=True) for m in resized) / len(maps)
    fused = head(maps)
    assert fused.shape == (2, 133, *heatmap)
    torch.testing.assert_close(fused.double(), ref, rtol=0, atol=1e-6 * ref.max().item())


def test_head_loss_contract():
    losses = _head().loss(_layer_maps(), _samples())
    assert set(losses) == {'loss_kpt', 'acc_pose'}
    assert losses['loss_kpt'].ndim == 0 and losses['loss_kpt'] > 0
    assert 0 <= losses['acc_pose'] <= 1


def test_head_predict_shapes_scores_and_heatmaps():
    head = _head()
    preds = head.predict(_layer_maps(), _samples())
    assert len(preds) == 2
    assert preds[0].keypoints.shape == (1, 17, 2)
    assert preds[0].keypoint_scores.shape == (1, 17)
    assert ((preds[0].keypoint_scores >= 0) & (preds[0].keypoint_scores <= 1)).all()
    preds, fields = head.predict(_layer_maps(), _samples(), test_cfg=dict(output_heatmaps=True))
    assert fields[0].heatmaps.shape == (17, 64, 48)


def test_peaked_map_decodes_to_its_pixel():
    maps = torch.full((1, 2, 32, 24), 1e-6)
    maps[0, 0, 10, 7] = 1.0  # cell (u=7, v=10) at the 32x24 level (stride 8)
    maps[0, 1, 31, 0] = 1.0
    maps = maps / maps.sum((-2, -1), keepdim=True)
    pred = _head().predict((maps, ), _samples(1, 2))[0]
    # stride-8 cell centers in input pixels, resolved on the stride-4 heatmap
    np.testing.assert_allclose(pred.keypoints[0], [[7 * 8 + 3.5, 10 * 8 + 3.5],
                                                   [3.5, 31 * 8 + 3.5]], atol=2.0)
    assert (pred.keypoint_scores > 0.2).all()


def test_flip_test_unflips_maps():
    head = _head()
    maps = _layer_maps()
    # the flipped image's maps are the mirror (with left/right swap) of the originals
    flip_indices = list(range(17))
    flip_indices[1], flip_indices[2] = 2, 1
    samples = _samples()
    for s in samples:
        s.set_metainfo(dict(flip_indices=flip_indices))
    flipped = tuple(m.flip(-1)[:, flip_indices] for m in maps)
    plain = head.predict(maps, samples)
    tta = head.predict([maps, flipped], samples, test_cfg=dict(flip_test=True))
    for a, b in zip(plain, tta):
        np.testing.assert_allclose(a.keypoints, b.keypoints, atol=1e-3)  # float noise
        np.testing.assert_allclose(a.keypoint_scores, b.keypoint_scores, rtol=1e-5)
    # and equals mmpose's flip_heatmaps average
    unflipped = flip_heatmaps(head(flipped), flip_indices=flip_indices, shift_heatmap=False)
    fused = (head(maps) + unflipped) / 2
    np.testing.assert_allclose(head.decode(fused)[0].keypoints, plain[0].keypoints, atol=1e-3)


def test_keypoint_count_mismatch_is_a_clear_error():
    with pytest.raises(ValueError, match='num_keypoints=17'):
        _head().loss(_layer_maps(num_keypoints=20), _samples())
    with pytest.raises(ValueError, match='num_keypoints=17'):
        _head().predict(_layer_maps(num_keypoints=20), _samples())


def test_decode_under_autocast_returns_fp32_numpy():
    head = _head()
    with torch.autocast('cpu', dtype=torch.bfloat16):
        preds = head.predict(tuple(m.bfloat16() for m in _layer_maps()), _samples())
    ref = head.predict(_layer_maps(), _samples())
    assert preds[0].keypoint_scores.dtype == np.float32
    np.testing.assert_allclose(preds[0].keypoint_scores, ref[0].keypoint_scores, rtol=0.05)


def _old_argmax_decode(maps, stride, sigma):
    """The paper's decoding as the codec did it before sub-pixel refinement:
    argmax cell center; score = mass under a Gaussian at the argmax."""
    batch, num, height, width = maps.shape
    keypoints = np.zeros((batch, num, 2), np.float32)
    scores = np.zeros((batch, num), np.float32)
    ys, xs = np.mgrid[:height, :width]
    for b in range(batch):
        for k in range(num):
            v, u = np.unravel_index(np.argmax(maps[b, k]), (height, width))
            keypoints[b, k] = (np.array([u, v]) + 0.5) * stride - 0.5
            g = np.exp(-((xs - u)**2 + (ys - v)**2) / (2 * sigma**2))
            scores[b, k] = min(1, (maps[b, k] * g).sum())
    return keypoints, scores


def test_refine_none_is_the_plain_argmax():
    maps = CorrelationMapHead(decoder=CODEC)(_layer_maps())
    codec = GenLocHeatmap(input_size=(192, 256), heatmap_size=(48, 64), sigma=2, refine=None)
    keypoints, scores = codec.batch_decode(maps)
    ref_kpts, ref_scores = _old_argmax_decode(maps.numpy(), np.array([4., 4.]), 2)
    np.testing.assert_array_equal(np.stack(keypoints)[:, 0], ref_kpts)
    np.testing.assert_allclose(np.stack(scores)[:, 0], ref_scores, rtol=1e-5)


def _peaked_maps(batch, num, height, width, seed=0):
    """Maps (B, K, H, W) with a well-defined maximum: a Gaussian peak (sigma 1.5-3
    cells, at a random sub-cell position 3+ cells inside the border), a weaker
    second peak and a positive floor."""
    rng = np.random.RandomState(seed)
    ys, xs = np.mgrid[:height, :width].astype(np.float64)
    maps = np.empty((batch, num, height, width), np.float32)
    for index in np.ndindex(batch, num):
        peak = np.zeros((height, width))
        for amplitude in (1.0, rng.uniform(0.1, 0.5)):
            cx, cy = rng.uniform(3, width - 4), rng.uniform(3, height - 4)
            sigma = rng.uniform(1.5, 3)
            peak += amplitude * np.exp(-((xs - cx)**2 + (ys - cy)**2) / (2 * sigma**2))
        maps[index] = peak + rng.uniform(1e-3, 2e-3, peak.shape)
    return torch.from_numpy(maps)


def test_dark_equals_mmpose():
    """The vectorised DARK equals mmpose's per-keypoint loop on maps with a
    well-defined maximum, within a bound derived from float32 arithmetic.

    Both blur in float32: each blurred value is a separable k x k sum of positive
    terms, relative error <= 2k u per implementation (u = 2**-24), plus the
    rescale and the log: the two log maps differ by at most eps = (4k + 4) u.
    The finite differences then differ by <= eps per gradient component and per
    Hessian entry, and the Newton step -H^-1 g by <= ||H^-1|| (sqrt(2) eps +
    2 eps |offset|) to first order (twice that is allowed), plus the float32
    rounding of the keypoint in input pixels (1e-5 cells)."""
    from mmpose.codecs.utils import get_heatmap_maximum, refine_keypoints_dark
    from mmpose.codecs.utils.post_processing import gaussian_blur
    kernel = 7
    maps = _peaked_maps(3, 17, 64, 48)
    codec = GenLocHeatmap(input_size=(192, 256), heatmap_size=(48, 64), sigma=2,
                          refine='dark', blur_kernel_size=kernel)
    keypoints, _ = codec.batch_decode(maps)
    eps = (4 * kernel + 4) * 2.0**-24
    for b in range(3):
        heatmaps = maps[b].numpy().copy()
        cells, _ = get_heatmap_maximum(heatmaps)
        ref = refine_keypoints_dark(cells[None].copy(), heatmaps.copy(), kernel)[0]
        log = np.log(np.maximum(gaussian_blur(heatmaps.copy(), kernel), 1e-10)).astype(
            np.float64)
        for k, (x, y) in enumerate(cells.astype(int)):
            hessian = 0.25 * np.array([
                [log[k, y, x + 2] - 2 * log[k, y, x] + log[k, y, x - 2],
                 log[k, y + 1, x + 1] - log[k, y - 1, x + 1] - log[k, y + 1, x - 1]
                 + log[k, y - 1, x - 1]],
                [0, log[k, y + 2, x] - 2 * log[k, y, x] + log[k, y - 2, x]]])
            hessian[1, 0] = hessian[0, 1]
            eigen = np.linalg.eigvalsh(hessian)
            assert eigen.max() < 0  # a maximum: the quadratic model holds
            offset = np.linalg.norm(ref[k] - cells[k])
            tol = 2 * (np.sqrt(2) * eps + 2 * eps * offset) / -eigen.max() + 1e-5
            ours = (keypoints[b][0, k] + 0.5) / 4 - 0.5
            assert np.abs(ours - ref[k]).max() <= tol, (b, k, ours, ref[k], tol)
        assert np.abs(ref - cells).max() > 0.1  # refined, not just the argmax


@pytest.mark.parametrize('kind', ['zeros', 'constant', 'rand8', 'spike', 'ridge', 'tie',
                                  'saddle', 'border'])
def test_dark_on_degenerate_maps_stays_in_range(kind):
    """Flat, spiky or ill-conditioned maps give finite keypoints within a cell of
    their argmax (the Newton step is only taken towards a maximum less than a cell
    away) and inside the map; scores stay in [0, 1]."""
    height, width = 64, 48
    torch.manual_seed(0)
    maps = torch.zeros(2, 17, height, width)
    if kind == 'constant':
        maps += 0.5
    elif kind == 'rand8':
        maps = torch.rand(2, 17, height, width)**8
    elif kind == 'spike':
        maps[..., 20, 30] = 1
    elif kind == 'ridge':  # a flat line: no unique maximum along it
        maps[..., 30, :] = 1
    elif kind == 'tie':
        maps[..., 10, 10] = maps[..., 12, 12] = 1
    elif kind == 'saddle':  # log curvature of opposite signs in x and y
        ys, xs = torch.meshgrid(torch.arange(height), torch.arange(width), indexing='ij')
        maps += torch.exp(0.01 * (xs - 24.3)**2 - 0.05 * (ys - 31.6)**2)
    else:  # maxima on the border rows/columns: not refined
        maps[..., 0, 7] = maps[..., 63, 40] = 1
    codec = GenLocHeatmap(input_size=(192, 256), heatmap_size=(48, 64), sigma=2)
    keypoints, scores = codec.batch_decode(maps)
    keypoints, scores = np.stack(keypoints)[:, 0], np.stack(scores)[:, 0]
    cells = (keypoints + 0.5) / 4 - 0.5
    index = maps.flatten(2).argmax(-1).numpy()
    argmax = np.stack([index % width, index // width], -1)
    assert np.isfinite(keypoints).all() and np.isfinite(scores).all()
    assert (np.abs(cells - argmax) <= 1 + 1e-4).all()
    assert (cells >= -0.5).all() and (cells[..., 0] <= width - 0.5).all()
    assert (cells[..., 1] <= height - 0.5).all()
    assert ((scores >= 0) & (scores <= 1)).all()
    if kind in ('zeros', 'constant', 'spike', 'border', 'ridge'):
        np.testing.assert_allclose(cells, argmax, atol=1e-5)  # kept, not moved


def _clean_gaussian_layer_maps(input_size, layer_sizes, num=200, seed=0):
    """Normalised Gaussians (sigma 2 cells) at random sub-pixel keypoints, rendered
    by the codec at each CKHE layer size: (keypoints (num, 2), layer maps)."""
    rng = np.random.RandomState(seed)
    width, height = input_size
    keypoints = rng.uniform([0.1 * width, 0.1 * height], [0.9 * width, 0.9 * height],
                            size=(1, num, 2)).astype(np.float32)
    maps = []
    for size in layer_sizes:
        heatmaps = GenLocHeatmap(input_size, size, sigma=2).encode(keypoints)['heatmaps']
        heatmaps = torch.from_numpy(heatmaps)[None]
        maps.append(heatmaps / heatmaps.sum((-2, -1), keepdim=True))
    return keypoints[0], tuple(maps)


@pytest.mark.parametrize('input_size,layer_sizes', [
    ((256, 256), [(8, 8), (16, 16), (32, 32)]),  # SD-1.5 CKHE layers, 256x256 crop
    ((192, 256), [(6, 8), (12, 16), (24, 32)]),  # 256x192 (W x H)
])
def test_clean_gaussians_decode_to_sub_pixel(input_size, layer_sizes):
    """Maps fused from SD-1.5's three layer sizes decode to well under 0.5 px
    (DARK, the default); the plain argmax is off by ~1.5 px (a 4 px grid)."""
    keypoints, maps = _clean_gaussian_layer_maps(input_size, layer_sizes)
    heatmap_size = (input_size[0] // 4, input_size[1] // 4)
    samples = _samples(1, len(keypoints))
    errors = {}
    for refine in (None, 'dark'):
        head = CorrelationMapHead(decoder=dict(
            type='GenLocHeatmap', input_size=input_size, heatmap_size=heatmap_size,
            sigma=2, refine=refine))
        pred = head.predict(maps, samples)[0]
        errors[refine] = np.linalg.norm(pred.keypoints[0] - keypoints, axis=-1)
    assert errors[None].mean() > 1.0 and errors[None].max() < 2 * 2**0.5 + 0.5
    assert errors['dark'].mean() < 0.15, errors['dark'].mean()
    assert errors['dark'].max() < 0.5, errors['dark'].max()


def test_flip_test_mirrored_image_gives_mirrored_prediction():
    """With sub-pixel decoding, the flip-tested prediction of a mirrored image is
    the mirror of the original's (left/right swapped)."""
    input_size, layer_sizes = (192, 256), [(6, 8), (12, 16), (24, 32)]
    keypoints, maps = _clean_gaussian_layer_maps(input_size, layer_sizes, num=17)
    flip_indices = list(range(17))
    flip_indices[1], flip_indices[2] = 2, 1
    mirrored = tuple(m.flip(-1)[:, flip_indices] for m in maps)
    samples = _samples(1, 17)
    for s in samples:
        s.set_metainfo(dict(flip_indices=flip_indices))
    head = _head()
    pred = head.predict([maps, mirrored], samples, test_cfg=dict(flip_test=True))[0]
    pred_m = head.predict([mirrored, maps], samples, test_cfg=dict(flip_test=True))[0]
    expected = pred.keypoints[0][flip_indices].copy()
    expected[:, 0] = input_size[0] - 1 - expected[:, 0]
    np.testing.assert_allclose(pred_m.keypoints[0], expected, atol=1e-3)
    np.testing.assert_allclose(pred.keypoints[0], keypoints, atol=0.5)
