"""The fast data pipeline (genloc_mmpose/datasets/transforms/) against MMPose's own,
on the real sample images: keypoints and targets exactly equal, reduced-scale decodes
within a measured PSNR of the full decode, the test-mode image cache invisible in the
outputs, and the flags off byte-identical to MMPose.

PSNR bounds (measured on these images over 80 AP-10K and 120 COCO training crops
before the bounds were set): a crop warped from a 1/2 or 1/4 JPEG decode vs the same crop from
the full decode: min 24.9 dB, median 28 dB; the difference is aliasing: against an
anti-aliased reference (the full decode warped at 4x the size, then area-averaged)
the reduced-decode crops are closer (median 25.5-26.9 dB) than MMPose's full-decode
crops (median 22.9-24.0 dB). A flip folded into the warp instead of applied to the
pixels: >= 79.9 dB (1/32-pixel rounding of OpenCV's bilinear weights). Asserted with
margin: >= 22 dB, >= 60 dB, and the reduced crops no farther from the reference than
MMPose's (median).
"""
import copy
import logging
import os.path as osp
import shutil

import cv2
import numpy as np
import pytest
from mmengine.config import Config
from mmengine.dataset import Compose
from mmengine.registry import init_default_scope

from conftest import REPO, TEST_DATA

AP10K_CFG = osp.join(REPO, 'configs/genloc/ap10k/genloc_sd15-lora16_8xb25-100e_ap10k-256x256.py')
COCO_CFG = osp.join(REPO, 'configs/genloc/coco/genloc_sd15-lora16_8xb25-14e_coco-256x192.py')
CUSTOM_CFG = osp.join(REPO, 'configs/genloc/custom/_base_/genloc_sd15-lora16_custom.py')
DATA = dict(
    ap10k=dict(type='AP10KDataset', data_root=osp.join(TEST_DATA, 'ap10k/'),
               ann_file='test_ap10k.json', data_prefix=dict(img='')),
    coco=dict(type='CocoDataset', data_root=osp.join(TEST_DATA, 'coco/'),
              ann_file='test_coco.json', data_prefix=dict(img='')))
REDUCED_MIN_PSNR = 22.0
FLIP_MIN_PSNR = 60.0


@pytest.fixture(scope='module', autouse=True)
def scope():
    init_default_scope('mmpose')
    import genloc_mmpose  # noqa: F401
    cv2.setNumThreads(1)


def infos(which, test_mode=False, detections=False, data_root=None):
    from mmpose.registry import DATASETS
    cfg = dict(DATA[which], test_mode=test_mode, pipeline=[])
    if data_root:
        cfg['data_root'] = data_root
    if detections:
        cfg['bbox_file'] = osp.join(cfg['data_root'], 'test_coco_det_AP_H_56.json')
    dataset = DATASETS.build(cfg)
    return [dataset.get_data_info(i) for i in range(len(dataset))]


def run_steps(pipeline, info, seed):
    """Run the transforms one by one: (packed output, results before the affine,
    the reduced-decode factor the affine used: None for MMPose's)."""
    np.random.seed(seed)
    results, before, factor = copy.deepcopy(info), None, None
    for transform in Compose(pipeline).transforms:
        affine = 'TopdownAffine' in type(transform).__name__
        if affine:
            before = dict(results)
        results = transform(results)
        if affine:
            factor = results.get('reduced_decode_factor')
    return results, before, factor


def psnr(a, b):
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64))**2)
    return float('inf') if mse == 0 else 10 * np.log10(255**2 / mse)


def assert_same_labels(old, new):
    """Everything but the pixels: keypoints, targets, weights and metadata."""
    a, b = old['data_samples'], new['data_samples']
    for key in a.metainfo:
        va, vb = a.metainfo[key], b.metainfo[key]
        if isinstance(va, np.ndarray) or isinstance(vb, np.ndarray):
            assert np.array_equal(va, vb), key
        else:
            assert va == vb, key
    for field in ('gt_instances', 'gt_instance_labels', 'gt_fields'):
        if field not in a:
            continue
        fa, fb = getattr(a, field), getattr(b, field)
        assert set(fa.keys()) == set(fb.keys()), field
        for key in fa.keys():
            va, vb = fa.get(key), fb.get(key)
            va = va.numpy() if hasattr(va, 'numpy') else np.asarray(va)
            vb = vb.numpy() if hasattr(vb, 'numpy') else np.asarray(vb)
            assert va.dtype == vb.dtype and np.array_equal(va, vb), (field, key)


def reference_crop(before, input_size):
    """The crop from the full decode, warped at 4x and area-averaged: anti-aliased."""
    from mmpose.structures.bbox import get_warp_matrix
    from mmpose.datasets.transforms import TopdownAffine
    img = np.asarray(before['img'])  # EncodedImage: its full decode, flips applied
    width, height = input_size
    scale = TopdownAffine._fix_aspect_ratio(before['bbox_scale'], width / height)[0]
    rot = before['bbox_rotation'][0] if 'bbox_rotation' in before else 0.
    warp = get_warp_matrix(before['bbox_center'][0], scale, rot,
                           output_size=(4 * width, 4 * height))
    big = cv2.warpAffine(img, warp, (4 * width, 4 * height), flags=cv2.INTER_LINEAR)
    return cv2.resize(big, (width, height), interpolation=cv2.INTER_AREA)


@pytest.mark.parametrize('config,which,seeds', [(AP10K_CFG, 'ap10k', 20),
                                                (COCO_CFG, 'coco', 4),
                                                (CUSTOM_CFG, 'coco', 4)])
def test_training_pipeline_labels_equal_pixels_close(config, which, seeds):
    """The configs' training pipelines (reduced decode, flips folded into the warp)
    vs MMPose's: identical keypoints, targets and metadata for the same random draws;
    the crops within the PSNR bounds, and no farther from an anti-aliased reference."""
    from genloc_mmpose.datasets.transforms import EncodedImage, mmpose_pipeline
    cfg = Config.fromfile(config)
    new_pipe = cfg.train_dataloader.dataset.pipeline
    old_pipe = mmpose_pipeline(new_pipe)
    # (the recipe of users' own keypoint sets has no half-body augmentation)
    assert [t['type'] for t in old_pipe] == [
        'GenLocLoadImage', 'GetBBoxCenterScale', 'RandomFlip',
        *(['RandomHalfBody'] if config != CUSTOM_CFG else []),
        'RandomBBoxTransform', 'TopdownAffine', 'GenerateTarget', 'PackPoseInputs']
    input_size = cfg.codec.input_size
    factors, gains = {}, []
    for info in infos(which):
        for seed in range(seeds):
            old, _, _ = run_steps(old_pipe, info, seed)
            new, new_before, factor = run_steps(new_pipe, info, seed)
            assert isinstance(new_before['img'], EncodedImage)
            assert_same_labels(old, new)
            a, b = old['inputs'].numpy(), new['inputs'].numpy()
            assert a.shape == b.shape and a.dtype == b.dtype == np.uint8
            flip = bool(old['data_samples'].flip)
            factors[factor, flip] = factors.get((factor, flip), 0) + 1
            value = psnr(a, b)
            if factor == 1 and not flip:
                assert np.array_equal(a, b)
            elif factor == 1:
                assert value >= FLIP_MIN_PSNR, (info['img_path'], seed, value)
            else:
                assert value >= REDUCED_MIN_PSNR, (info['img_path'], seed, factor, value)
                ref = reference_crop(new_before, input_size).transpose(2, 0, 1)
                gains.append(psnr(b, ref) - psnr(a, ref))
    if which == 'ap10k':  # the big AP-10K images take every branch
        assert {f for f, _ in factors} >= {1, 2, 4} and {f for _, f in factors} == {
            False, True}, factors
    if gains:
        assert np.median(gains) >= 0, gains


def test_reduction_never_upsamples():
    from genloc_mmpose.datasets.transforms import GenLocTopdownAffine
    affine = GenLocTopdownAffine(input_size=(192, 256))
    for scale, factor in (((191, 255), 1), ((384, 512), 2), ((383, 512), 1),
                          ((1000, 1400), 4), ((5000, 9000), 8)):
        assert affine.reduction(np.array(scale, float)) == factor
    assert GenLocTopdownAffine((256, 256), max_reduction=2).reduction(
        np.array([4000., 4000.])) == 2
    with pytest.raises(ValueError, match='max_reduction'):
        GenLocTopdownAffine((256, 256), max_reduction=3)


@pytest.mark.parametrize('which', ['ap10k', 'coco'])
def test_flags_off_is_mmpose_byte_identical(which):
    """GenLocLoadImage(reduced_decode=False): the GenLoc transforms are MMPose's."""
    from genloc_mmpose.datasets.transforms import mmpose_pipeline
    cfg = Config.fromfile(AP10K_CFG if which == 'ap10k' else COCO_CFG)
    pipe = copy.deepcopy(cfg.train_dataloader.dataset.pipeline)
    pipe[0]['reduced_decode'] = False
    assert pipe[2]['type'] == 'GenLocRandomFlip' and pipe[5]['type'] == 'GenLocTopdownAffine'
    for info in infos(which):
        for seed in range(4):
            old, _, _ = run_steps(mmpose_pipeline(pipe), info, seed)
            new, _, _ = run_steps(pipe, info, seed)
            assert_same_labels(old, new)
            assert np.array_equal(old['inputs'].numpy(), new['inputs'].numpy())


def test_test_pipeline_decodes_each_image_once():
    """The COCO config's test pipeline over the sample's 118 person detections (4
    images): byte-identical to MMPose's, 4 decodes instead of 118; the reduced
    decode with and without the cache gives identical crops."""
    from genloc_mmpose.datasets.transforms import mmpose_pipeline
    cfg = Config.fromfile(COCO_CFG)
    pipe = cfg.test_dataloader.dataset.pipeline
    assert pipe[0] == dict(type='GenLocLoadImage', cache_images=1)
    dets = infos('coco', test_mode=True, detections=True)
    assert len(dets) == 118
    new, old = Compose(pipe), Compose(mmpose_pipeline(pipe))
    for info in dets:
        a, b = old(copy.deepcopy(info)), new(copy.deepcopy(info))
        assert_same_labels(a, b)
        assert np.array_equal(a['inputs'].numpy(), b['inputs'].numpy())
    loader = new.transforms[0]
    assert loader.stats == dict(reads=118, cache_hits=114, decodes=4, disk_hits=0,
                                disk_writes=0)

    # reduced decode (GenLocTopdownAffine), with and without the cache
    fast = copy.deepcopy(pipe)
    fast[0]['reduced_decode'] = True
    fast[2]['type'] = 'GenLocTopdownAffine'
    uncached = copy.deepcopy(fast)
    uncached[0]['cache_images'] = 0
    cached, plain = Compose(fast), Compose(uncached)
    for info in dets + dets[:7]:
        a, b = cached(copy.deepcopy(info)), plain(copy.deepcopy(info))
        assert_same_labels(a, b)
        assert np.array_equal(a['inputs'].numpy(), b['inputs'].numpy())
    assert cached.transforms[0].stats['decodes'] <= 2 * 4 + 1
    assert plain.transforms[0].stats['decodes'] == 125


def test_decode_cache_dir_decodes_each_image_once_in_all_epochs(tmp_path):
    """The AP-10K training pipeline with ``decode_cache_dir``: outputs byte-identical
    to the pipeline without it in every epoch; the first epoch decodes and writes
    each (image, scale) once, a later one (a new loader: another worker, epoch or
    run) decodes nothing; a damaged file is decoded and written again; a folder
    that cannot be written is reported once and training goes on decoding."""
    from mmengine.logging import MMLogger

    from genloc_mmpose.datasets.transforms import GenLocLoadImage
    cfg = Config.fromfile(AP10K_CFG)
    plain = cfg.train_dataloader.dataset.pipeline
    cached = copy.deepcopy(plain)
    cached[0]['decode_cache_dir'] = str(tmp_path / 'decoded')
    samples = [(info, seed) for info in infos('ap10k') for seed in range(12)]

    def epoch(pipeline):
        """Outputs and the loader's stats of one pass over the samples."""
        compose, outs = Compose(pipeline), []
        for info, seed in samples:
            np.random.seed(seed)
            outs.append(compose(copy.deepcopy(info)))
        return outs, compose.transforms[0].stats

    expected, _ = epoch(plain)
    used = {(info['img_path'], run_steps(plain, info, seed)[2]) for info, seed in samples}
    assert {f for _, f in used} >= {1, 2}, used  # full and reduced decodes both kept

    def check(outs):
        for a, b in zip(expected, outs):
            assert_same_labels(a, b)
            assert np.array_equal(a['inputs'].numpy(), b['inputs'].numpy())

    outs, stats = epoch(cached)
    check(outs)
    files = sorted((tmp_path / 'decoded').glob('*/*.npy'))
    assert stats['decodes'] == stats['disk_writes'] == len(files) == len(used)
    outs, stats = epoch(cached)  # the next epoch
    check(outs)
    assert stats['decodes'] == 0 and stats['disk_hits'] == len(samples)
    assert not list((tmp_path / 'decoded').glob('*/*.tmp'))

    kept = [np.load(f) for f in files[:2]]
    files[0].write_bytes(files[0].read_bytes()[:200])  # damaged (a killed copy)
    files[1].write_bytes(b'')  # emptied
    outs, stats = epoch(cached)
    check(outs)
    assert stats['decodes'] == stats['disk_writes'] == 2
    assert all(np.array_equal(np.load(f), k) for f, k in zip(files, kept))

    (tmp_path / 'not_a_folder').write_text('')
    blocked = copy.deepcopy(plain)
    blocked[0]['decode_cache_dir'] = str(tmp_path / 'not_a_folder' / 'decoded')
    logger = MMLogger.get_current_instance()
    warnings = []
    handler = logging.Handler(logging.WARNING)
    handler.emit = lambda record: warnings.append(record.getMessage())
    logger.addHandler(handler)
    try:
        outs, stats = epoch(blocked)
    finally:
        logger.removeHandler(handler)
    check(outs)
    assert stats['disk_writes'] == 0 and stats['decodes'] == len(samples)
    assert len(warnings) == 1 and 'cannot write to decode_cache_dir' in warnings[0]

    with pytest.raises(ValueError, match='set reduced_decode=True'):
        GenLocLoadImage(decode_cache_dir=str(tmp_path))


def test_cache_sees_a_changed_file(tmp_path):
    """The cache is keyed by the file's bytes too: a new image at the same path is
    decoded anew (an inferencer fed one path over and over)."""
    from genloc_mmpose.datasets.transforms import GenLocLoadImage
    path = str(tmp_path / 'frame.jpg')
    loader = GenLocLoadImage(cache_images=1)
    outs = []
    for name in ('000000000785.jpg', '000000040083.jpg', '000000040083.jpg'):
        shutil.copy(osp.join(TEST_DATA, 'coco', name), path)
        outs.append(loader(dict(img_path=path))['img'])
    assert outs[0].shape != outs[1].shape and outs[1] is outs[2]
    assert np.array_equal(outs[1], cv2.imread(path))
    assert not outs[1].flags.writeable  # shared: a transform writing to it fails loudly
    assert loader.stats['decodes'] == 2


def test_non_jpeg_and_rotated_jpeg_decode_in_full(tmp_path):
    """Only plain JPEGs (YCbCr or grey) are deferred: a PNG, a CMYK JPEG and a JPEG
    with an EXIF rotation (which OpenCV applies) load as arrays, as before, and give
    MMPose's crops."""
    from PIL import Image

    from genloc_mmpose.datasets.transforms import (EncodedImage, GenLocLoadImage,
                                                   mmpose_pipeline)
    root = tmp_path / 'coco'
    shutil.copytree(osp.join(TEST_DATA, 'coco'), root)
    src = root / '000000000785.jpg'
    img = Image.open(src)
    img.save(root / 'rotated.jpg', exif=_exif_orientation(img, 6), quality=95)
    cv2.imwrite(str(root / 'image.png'), cv2.imread(str(src)))
    img.convert('CMYK').save(root / 'cmyk.jpg', quality=95)
    img.convert('L').save(root / 'grey.jpg', quality=95)
    loader = GenLocLoadImage(reduced_decode=True)
    for name in ('000000000785.jpg', 'grey.jpg'):  # YCbCr and grey: deferred
        encoded = loader(dict(img_path=str(root / name)))['img']
        assert isinstance(encoded, EncodedImage)
        assert np.array_equal(np.asarray(encoded), cv2.imread(str(root / name)))
        assert np.array_equal(encoded.decode(2), cv2.imread(str(root / name),
                                                            cv2.IMREAD_REDUCED_COLOR_2))
    for name in ('rotated.jpg', 'image.png', 'cmyk.jpg'):
        out = loader(dict(img_path=str(root / name)))
        assert isinstance(out['img'], np.ndarray)
        assert np.array_equal(out['img'], cv2.imread(str(root / name)))
    assert loader(dict(img_path=str(root / 'rotated.jpg')))['img'].shape[:2] == (640, 425)

    cfg = Config.fromfile(COCO_CFG)
    pipe = cfg.train_dataloader.dataset.pipeline
    info = infos('coco', data_root=str(root) + '/')[0]
    info['img_path'] = str(root / 'image.png')
    for seed in range(3):
        old, _, _ = run_steps(mmpose_pipeline(pipe), info, seed)
        new, _, _ = run_steps(pipe, info, seed)
        assert_same_labels(old, new)
        assert np.array_equal(old['inputs'].numpy(), new['inputs'].numpy())


def _exif_orientation(img, value):
    exif = img.getexif()
    exif[0x0112] = value
    return exif


def test_encoded_image_as_array_is_the_flipped_decode():
    """A transform that does not know EncodedImage gets MMPose's pixels."""
    from mmcv import imflip

    from genloc_mmpose.datasets.transforms import GenLocLoadImage
    path = osp.join(TEST_DATA, 'ap10k', '000000037516.jpg')
    full = cv2.imread(path)
    encoded = GenLocLoadImage(reduced_decode=True)(dict(img_path=path))['img']
    assert encoded.shape == full.shape
    assert np.array_equal(np.asarray(encoded), full)
    for direction in ('horizontal', 'vertical', 'diagonal'):
        assert np.array_equal(np.asarray(encoded.flipped(direction)),
                              imflip(full, direction)), direction
    small = encoded.decode(4)
    assert small.shape == (217, 300, 3)
    assert np.array_equal(small, cv2.imread(path, cv2.IMREAD_REDUCED_COLOR_4))
