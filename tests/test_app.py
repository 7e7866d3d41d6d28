"""The browser app (tools/app.py) in a real browser: Playwright driving Debian's headless
Chromium (tools/setup_test_env.sh installs both), the app on the CPU, started once for the
module on a tiny random model whose weights folder holds a tiny CLIP text encoder.

Screenshots go to $GENLOC_APP_SCREENSHOTS when set (docs/images for docs/app.md), else
to a temporary folder.
"""
import contextlib
import json
import os
import os.path as osp
import re
import runpy
import socket
import subprocess
import sys
import time
import urllib.request

import cv2
import numpy as np
import pytest

from conftest import REPO, TEST_DATA, TINY_CONFIG

COCO = osp.join(TEST_DATA, 'coco')
CHROMIUM = '/usr/bin/chromium'
# the network here refuses Chromium's own background connections: keep them off
CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic',
                 '--no-first-run', '--disable-background-networking',
                 '--disable-component-update', '--disable-sync']
TIMEOUT_MS = 120_000
LOOK_BOX = [281, 45, 499, 391]  # the person in 000000000785.jpg (its COCO box)
# The app (its own process, its own thread count) and the test sum the float32 maps in
# other orders: ~1e-6 relative apart, which DARK's sub-pixel step turns into ~1e-4 px
# (1.07e-4 seen on one machine). 2e-3 px still tells any real change apart (the flip
# test moves keypoints by > 1e-2 px).
PX_TOL = 2e-3
# Teach: 5 of COCO's keypoints on the largest person of 3 sample images, clicked at
# their COCO coordinates (rounded to pixels); the box drawn for two images
TEACH_NAMES = ['nose', 'left_shoulder', 'right_shoulder', 'left_hip', 'right_hip']
TEACH_SKELETON = 'left_shoulder-right_shoulder, left_hip-right_hip, left_shoulder-left_hip'
TEACH_IMAGES = {785: True, 40083: False, 196141: True}  # image id: draw its box


STORED_THR = 0.0734


@pytest.fixture(scope='module')
def model(tmp_path_factory):
    """The tiny COCO config on a diffusers folder (tiny random U-Net/VAE, a 32-wide
    CLIP text encoder and tokenizer; frozen U-Net + LoRA) and its checkpoint."""
    import torch
    from diffusers import AutoencoderKL, UNet2DConditionModel
    from mmengine.config import Config
    from mmengine.runner import save_checkpoint
    from mmpose.apis import init_model
    from test_text_conditions import write_text_encoder

    import genloc_mmpose  # noqa: F401
    folder = tmp_path_factory.mktemp('app_model')
    tiny = Config.fromfile(TINY_CONFIG).model.backbone
    torch.manual_seed(3)
    UNet2DConditionModel.from_config(dict(tiny.unet_cfg)).save_pretrained(folder / 'sd/unet')
    AutoencoderKL.from_config(dict(tiny.vae_cfg)).save_pretrained(folder / 'sd/vae')
    write_text_encoder(folder / 'sd', 32)
    config = folder / 'genloc_tiny_text.py'
    config.write_text(
        f"_base_ = ['{TINY_CONFIG}']\n"
        f"model = dict(backbone=dict(pretrained='{folder / 'sd'}', freeze_unet=True,\n"
        "    lora=dict(_delete_=True, r=4, lora_alpha=4,\n"
        "              target_modules=['to_q', 'to_k', 'to_v', 'to_out.0'])))\n")
    torch.manual_seed(0)
    net = init_model(str(config), device='cpu')
    with torch.no_grad():  # a LoRA that changes the maps (B starts at 0)
        for name, param in net.backbone.unet.named_parameters():
            if 'lora_B' in name:
                param.normal_(0, 0.5)
    checkpoint = str(folder / 'genloc_tiny_text.pth')
    # a score threshold of its own, as calibrate_score_threshold stores it
    from genloc_mmpose.evaluation.score_threshold import SCORE_THR_KEY
    save_checkpoint({'state_dict': net.state_dict(),
                     'meta': {'dataset_meta': net.dataset_meta,
                              SCORE_THR_KEY: STORED_THR}}, checkpoint)
    return str(config), checkpoint


@pytest.fixture(scope='module')
def detector(tmp_path_factory):
    """mmpose's demo RTMDet-nano person detector with random weights (seed 0), keeping its
    best box only: (config, checkpoint). Untrained, its box is a random speck."""
    import mmpose
    import torch
    from mmdet.apis import init_detector
    from mmengine.runner import save_checkpoint
    folder = tmp_path_factory.mktemp('detector')
    config = str(folder / 'rtmdet_nano_one_box.py')
    with open(config, 'w') as f:
        f.write(f"_base_ = ['{osp.dirname(mmpose.__file__)}/.mim/demo/mmdetection_cfg/"
                "rtmdet_nano_320-8xb32_coco-person.py']\n"
                "model = dict(test_cfg=dict(max_per_img=1))\n")
    torch.manual_seed(0)
    net = init_detector(config, None, device='cpu')
    checkpoint = str(folder / 'rtmdet_nano_random.pth')
    save_checkpoint({'state_dict': net.state_dict(),
                     'meta': {'dataset_meta': net.dataset_meta}}, checkpoint)
    return config, checkpoint


@contextlib.contextmanager
def running_app(args, work_dir):
    """tools/app.py ``args`` (model and options; a free port and ``work_dir`` added) in
    its own process (one thread), until its page answers: yields its url."""
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        port = sock.getsockname()[1]
    with open(osp.join(work_dir, 'app.log'), 'w') as log:
        proc = subprocess.Popen(
            [sys.executable, 'tools/app.py', *args, '--device', 'cpu', '--port', str(port),
             '--work-dir', work_dir], cwd=REPO, stdout=log, stderr=subprocess.STDOUT,
            env=dict(os.environ, OMP_NUM_THREADS='1'))
        url = f'http://127.0.0.1:{port}'
        deadline = time.time() + 180
        while True:
            assert proc.poll() is None, open(log.name).read()[-3000:]
            try:
                urllib.request.urlopen(url, timeout=5)
                break
            except OSError:
                assert time.time() < deadline, open(log.name).read()[-3000:]
                time.sleep(0.5)
        try:
            yield url
        finally:
            proc.terminate()
            proc.wait(30)


@pytest.fixture(scope='module')
def server(model, detector, tmp_path_factory):
    """tools/app.py on the tiny model, with the detector: (url, work dir)."""
    work_dir = str(tmp_path_factory.mktemp('app_work'))
    with running_app([*model, '--det-config', detector[0], '--det-checkpoint', detector[1],
                      '--max-file-size', '1mb'], work_dir) as url:
        yield url, work_dir


@pytest.fixture(scope='module')
def browser():
    from playwright.sync_api import sync_playwright
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def new_page(browser, server):
    """Pages of new browser contexts (separate sessions) on the app."""
    contexts = []

    def open_page():
        context = browser.new_context(viewport={'width': 1280, 'height': 900},
                                      accept_downloads=True)
        context.set_default_timeout(TIMEOUT_MS)
        contexts.append(context)
        page = context.new_page()
        page.goto(server[0])
        page.wait_for_selector('#look_run')
        return page

    yield open_page
    for context in contexts:
        context.close()


@pytest.fixture(scope='module')
def shots(tmp_path_factory):
    folder = os.environ.get('GENLOC_APP_SCREENSHOTS') or str(tmp_path_factory.mktemp('shots'))
    os.makedirs(folder, exist_ok=True)
    return folder


def expect(locator):
    """Playwright's expect, waiting up to TIMEOUT_MS (a loaded CPU is slow)."""
    from playwright.sync_api import expect as pw_expect
    pw_expect.set_options(timeout=TIMEOUT_MS)
    return pw_expect(locator)


def assert_keypoints(actual, expected):
    """(K, 3) x, y, score as another process computed them: x, y within
    :data:`PX_TOL` pixels, scores within 1e-4."""
    actual, expected = np.asarray(actual), np.asarray(expected)
    np.testing.assert_allclose(actual[:, :2], expected[:, :2], rtol=0, atol=PX_TOL)
    np.testing.assert_allclose(actual[:, 2], expected[:, 2], rtol=0, atol=1e-4)


def image_path(image_id):
    return osp.join(COCO, f'{image_id:012d}.jpg')


def natural_size(page, selector):
    """(width, height) of the picture in ``selector`` once it has loaded."""
    img = page.locator(f'{selector} img')
    img.wait_for()
    page.wait_for_function('e => e.complete && e.naturalWidth > 0', arg=img.element_handle())
    return img.evaluate('e => [e.naturalWidth, e.naturalHeight]')


def click_pixel(page, selector, x, y):
    """Click image pixel (x, y) of the picture in ``selector``, as displayed (scaled to
    fit, centred, never enlarged: gradio's rule). Returns the display scale."""
    width, height = natural_size(page, selector)
    img = page.locator(f'{selector} img')
    box = img.bounding_box()
    scale = min(box['width'] / width, box['height'] / height, 1)
    img.click(position={'x': (box['width'] - width * scale) / 2 + x * scale,
                        'y': (box['height'] - height * scale) / 2 + y * scale})
    return scale


def download(page, selector, suffix, folder):
    """Download the file ending in ``suffix`` from the gr.File ``selector`` into
    ``folder``: its path."""
    with page.expect_download() as info:
        page.locator(f'{selector} a[download$="{suffix}"]').click()
    path = osp.join(folder, info.value.suggested_filename)
    info.value.save_as(path)
    return path


def rerun(page, folder):
    """Find keypoints again in Look: the new COCO results."""
    link = page.locator('#look_files a[download$=".json"]')
    before = link.get_attribute('href')
    page.locator('#look_run').click()
    expect(link).not_to_have_attribute('href', before)
    with open(download(page, '#look_files', '.json', folder)) as f:
        return json.load(f)


def gallery_count(page, selector, count):
    expect(page.locator(f'{selector} .thumbnail-item')).to_have_count(count)


def coco_labels(image_id):
    with open(osp.join(COCO, 'test_coco.json')) as f:
        coco = json.load(f)
    ann = max((a for a in coco['annotations'] if a['image_id'] == image_id),
              key=lambda a: a['area'])
    names = coco['categories'][0]['keypoints']
    kpts = np.array(ann['keypoints']).reshape(-1, 3)[[names.index(n) for n in TEACH_NAMES]]
    x, y, w, h = ann['bbox']
    return kpts, [round(x), round(y), round(x + w), round(y + h)]


def test_look_keypoints_maps_and_json_equal_inferencer(new_page, model, detector, shots,
                                                       tmp_path):
    from mmpose.apis import MMPoseInferencer

    import genloc_mmpose  # noqa: F401
    page = new_page()
    page.locator('#look_image input[type=file]').set_input_files(image_path(785))
    page.wait_for_selector('#look_image img')
    # a box by two clicks on the input image (shown scaled: a click is 1/scale px)
    scale = click_pixel(page, '#look_image', *LOOK_BOX[:2])
    expect(page.locator('#look_note')).to_contain_text('opposite corner')
    click_pixel(page, '#look_image', *LOOK_BOX[2:])
    expect(page.locator('#look_note')).to_contain_text('added')
    clicked = [float(v) for v in page.locator('#look_boxes textarea').input_value().split(',')]
    np.testing.assert_allclose(clicked, LOOK_BOX, atol=1 / scale)
    expect(page.locator('#look_source input[value="my boxes"]')).to_be_checked()
    # the exact box, typed
    page.locator('#look_boxes textarea').fill(', '.join(map(str, LOOK_BOX)))
    # the slider starts at the model's own threshold (stored in its checkpoint)
    assert float(page.locator('#look_thr input[type=number]').input_value()) == round(
        STORED_THR, 2)
    expect(page.locator('#look_thr')).to_contain_text("the model's own")
    page.locator('#look_thr input[type=number]').fill('0')  # draw every keypoint
    page.locator('#look_thr input[type=number]').press('Enter')
    page.locator('#look_run').click()
    gallery_count(page, '#look_maps', 17)
    expect(page.locator('#look_table')).to_contain_text('right_ankle')
    assert natural_size(page, '#look_drawing') == [640, 425]
    page.screenshot(path=osp.join(shots, 'app_look.png'), full_page=True)
    with open(download(page, '#look_files', '.json', tmp_path)) as f:
        results = json.load(f)

    inferencer = MMPoseInferencer(pose2d=model[0], pose2d_weights=model[1], device='cpu',
                                  det_model='whole_image')
    people = next(inferencer(image_path(785), bboxes=[[LOOK_BOX]]))['predictions'][0]
    assert len(results) == len(people) == 1
    expected = np.concatenate([people[0]['keypoints'],
                               np.array(people[0]['keypoint_scores'])[:, None]], 1)
    assert_keypoints(np.reshape(results[0]['keypoints'], (17, 3)), expected)
    assert results[0]['image_id'] == 785
    np.testing.assert_allclose(results[0]['bbox'], [281, 45, 218, 346])

    # the flip test, as MMPoseInferencer's
    page.locator('#look_flip input').check()
    results = rerun(page, tmp_path)
    inferencer.inferencer.model.test_cfg['flip_test'] = True
    people = next(inferencer(image_path(785), bboxes=[[LOOK_BOX]]))['predictions'][0]
    flipped = np.reshape(results[0]['keypoints'], (17, 3))
    assert_keypoints(flipped, np.c_[people[0]['keypoints'], people[0]['keypoint_scores']])
    assert np.abs(flipped - expected).max() > 1e-2
    page.locator('#look_flip input').uncheck()

    # boxes from the detector given on the command line, as MMPoseInferencer's
    page.locator('#look_source label', has_text='detector').click()
    results = rerun(page, tmp_path)
    inferencer = MMPoseInferencer(pose2d=model[0], pose2d_weights=model[1], device='cpu',
                                  det_model=detector[0], det_weights=detector[1],
                                  det_cat_ids=[0])
    people = next(inferencer(image_path(785)))['predictions'][0]
    assert len(results) == len(people) == 1
    x1, y1, x2, y2 = people[0]['bbox'][0]
    np.testing.assert_allclose(results[0]['bbox'], [x1, y1, x2 - x1, y2 - y1], rtol=1e-6)
    assert results[0]['bbox'] != [281, 45, 218, 346]
    np.testing.assert_allclose(np.reshape(results[0]['keypoints'], (17, 3))[:, :2],
                               people[0]['keypoints'], rtol=0, atol=PX_TOL)

    # maps of each CKHE layer: the tiny U-Net has 4 (2 per cross-attention up-block:
    # 24x32 and 48x64 cells for a 96x128 crop, whose latent is 48x64)
    page.locator('#look_layers input').check()
    page.locator('#look_run').click()
    gallery_count(page, '#look_maps', 17 * 5)
    expect(page.locator('#look_maps')).to_contain_text('nose, layer 1 (24x32)')
    expect(page.locator('#look_maps')).to_contain_text('nose, layer 4 (48x64)')


def test_by_name_without_training(new_page, model, shots, tmp_path):
    """Keypoints by name equal a model built with those names as its conditions
    (condition_init='text') and no LoRA: the prior, no training."""
    from mmpose.apis import inference_topdown, init_model
    from mmpose.datasets.datasets.utils import parse_pose_metainfo

    from genloc_mmpose.datasets.keypoint_metainfo import metainfo_from_coco
    names = ['nose', 'left eye', 'tail tip']
    page = new_page()
    page.get_by_role('tab', name='By name').click()
    page.locator('#name_image input[type=file]').set_input_files(image_path(785))
    page.wait_for_selector('#name_image img')
    page.locator('#name_object textarea').fill('person')
    page.locator('#name_names textarea').fill(', '.join(names))
    page.locator('#name_run').click()
    gallery_count(page, '#name_maps', 3)
    expect(page.locator('#name_maps')).to_contain_text('tail tip')
    page.screenshot(path=osp.join(shots, 'app_by_name.png'), full_page=True)
    with open(download(page, '#name_files', '.json', tmp_path)) as f:
        results = json.load(f)

    net = init_model(model[0], device='cpu', cfg_options={
        'model.backbone.condition_init': 'text', 'model.backbone.keypoint_names': names,
        'model.backbone.object_name': 'person', 'model.backbone.num_keypoints': 3,
        'model.backbone.lora': None})
    net.dataset_meta = parse_pose_metainfo(metainfo_from_coco(names, [], 'names'))
    sample = inference_topdown(net, image_path(785))[0]  # the whole image
    expected = np.concatenate([sample.pred_instances.keypoints[0],
                               sample.pred_instances.keypoint_scores[0][:, None]], 1)
    assert_keypoints(np.reshape(results[0]['keypoints'], (3, 3)), expected)


def label_image(page, image_id):
    """Click the Teach keypoints of a sample image (COCO coordinates; 'Not visible'
    where COCO has v=0), drawing its box first when TEACH_IMAGES says so."""
    kpts, box = coco_labels(image_id)
    status = page.locator('#teach_status')
    if TEACH_IMAGES[image_id]:
        page.locator('#teach_box').click()
        expect(status).to_contain_text('Click one corner')
        click_pixel(page, '#teach_canvas', *box[:2])
        expect(status).to_contain_text('opposite corner')
        assert click_pixel(page, '#teach_canvas', *box[2:]) == 1  # shown 1:1
        expect(status).not_to_contain_text('corner')
    for done, (x, y, v) in enumerate(kpts, 1):
        expect(status).to_contain_text(f'Click: {TEACH_NAMES[done - 1]}')
        if v > 0:
            click_pixel(page, '#teach_canvas', x, y)
        else:
            page.locator('#teach_hidden').click()
        expect(status).to_contain_text(f'{done}/5 keypoints done')


@pytest.mark.slow
def test_teach_train_and_round_trip(new_page, shots, tmp_path, monkeypatch, capsys):
    page = new_page()
    page.get_by_role('tab', name='Teach').click()
    page.locator('#teach_object textarea').fill('person')
    page.locator('#teach_names textarea').fill('\n'.join(TEACH_NAMES))
    page.locator('#teach_skeleton textarea').fill(TEACH_SKELETON)
    page.locator('#teach_set').click()
    expect(page.locator('#teach_message')).to_contain_text('5 keypoints of "person", 3 '
                                                           'skeleton links')
    page.locator('#teach_images input[type=file]').set_input_files(
        [image_path(i) for i in TEACH_IMAGES])
    expect(page.locator('#teach_message')).to_contain_text('Added 3 images')
    label_image(page, 785)
    # one labelled image is too few
    page.locator('#teach_train').click()
    expect(page.locator('.toast-body')).to_contain_text('Too few labelled images to '
                                                        'train: 1, at least 3')
    for image_id in list(TEACH_IMAGES)[1:]:
        page.locator('#teach_next').click()
        expect(page.locator('#teach_status')).to_contain_text(f'{image_id:012d}.jpg')
        label_image(page, image_id)

    # export the labels, then train (2 iterations of the 3 images) while they are checked
    page.locator('#teach_export').click()
    exported = download(page, '#teach_files', 'labels_coco.json', tmp_path)
    page.locator('#teach_epochs input').fill('2')
    page.locator('#teach_train').click()
    # the exported labels are the clicked pixels
    with open(exported) as f:
        coco = json.load(f)
    assert coco['categories'][0]['keypoints'] == TEACH_NAMES
    assert coco['categories'][0]['skeleton'] == [[2, 3], [4, 5], [2, 4]]
    assert [i['file_name'] for i in coco['images']] == [
        f'{i:012d}.jpg' for i in TEACH_IMAGES]
    for ann, (image_id, boxed) in zip(coco['annotations'], TEACH_IMAGES.items()):
        kpts, box = coco_labels(image_id)
        expected = np.where(kpts[:, 2:] > 0, np.c_[kpts[:, :2], np.full(5, 2)], 0)
        np.testing.assert_array_equal(np.reshape(ann['keypoints'], (5, 3)), expected)
        image = coco['images'][ann['image_id'] - 1]
        x1, y1, x2, y2 = box if boxed else [0, 0, image['width'], image['height']]
        assert ann['bbox'] == [x1, y1, x2 - x1, y2 - y1]
    # ... and round-trip through tools/new_keypoints.py (in this process: no second
    # start-up of torch and mmpose)
    monkeypatch.setattr(sys, 'argv', [
        'new_keypoints.py', 'clicked', '--train', exported, '--val', exported,
        '--img-root', COCO, '--arch', 'tiny', '--out-dir', str(tmp_path / 'configs')])
    runpy.run_path(osp.join(REPO, 'tools', 'new_keypoints.py'), run_name='__main__')
    stdout = capsys.readouterr().out
    assert f'5 keypoints: {TEACH_NAMES}' in stdout
    assert 'left_shoulder <-> right_shoulder' in stdout
    assert osp.isfile(stdout.strip().splitlines()[-1])

    expect(page.locator('#teach_progress_state')).to_have_attribute(
        'data-state', 'done', timeout=300_000)
    expect(page.locator('#teach_progress')).to_contain_text('done: 2/2 iterations')
    gallery_count(page, '#teach_preds', 3)
    expect(page.locator('#teach_train_message')).to_contain_text('Trained')
    page.screenshot(path=osp.join(shots, 'app_teach.png'), full_page=True)
    for suffix in ('labels.json', '.py', '.pth'):
        expect(page.locator(f'#teach_files a[download$="{suffix}"]')).to_have_count(1)
    # Look now runs the taught model: 5 maps
    page.get_by_role('tab', name='Look').click()
    expect(page.locator('#look_model input[value="taught: person"]')).to_be_checked()
    page.locator('#look_image input[type=file]').set_input_files(image_path(785))
    page.wait_for_selector('#look_image img')
    page.locator('#look_run').click()
    gallery_count(page, '#look_maps', 5)
    expect(page.locator('#look_maps')).to_contain_text('right_hip')


def test_bad_uploads_and_sessions_apart(new_page, tmp_path):
    page, other = new_page(), new_page()
    # a non-image in Look: refused by the page; one named .jpg in Teach: by the server
    text = tmp_path / 'notes.txt'
    text.write_text('not an image')
    page.locator('#look_image input[type=file]').set_input_files(str(text))
    expect(page.locator('.toast-body')).to_contain_text('Invalid file type')
    page.locator('.toast-body button').first.click()
    # an image over --max-file-size (1 MB here)
    big = str(tmp_path / 'big.png')
    cv2.imwrite(big, np.random.default_rng(0).integers(0, 256, (800, 800, 3), np.uint8))
    assert osp.getsize(big) > 1_000_000
    page.locator('#look_image input[type=file]').set_input_files(big)
    expect(page.locator('.toast-body')).to_contain_text(
        'exceed the maximum allowed size of 1.0 Mb: "big.png"')
    page.get_by_role('tab', name='Teach').click()
    page.locator('#teach_names textarea').fill('tip, base')
    page.locator('#teach_set').click()
    expect(page.locator('#teach_message')).to_contain_text('2 keypoints')
    fake = tmp_path / 'fake.jpg'
    fake.write_text('not an image either')
    page.locator('#teach_images input[type=file]').set_input_files(
        [str(fake), image_path(785)])
    expect(page.locator('#teach_message')).to_contain_text(
        "Not images (JPEG, PNG, ...): ['fake.jpg']. Added ['000000000785.jpg']")
    expect(page.locator('#teach_status')).to_contain_text('Image 1/1')
    # another browser context: its own labels
    other.get_by_role('tab', name='Teach').click()
    expect(other.locator('#teach_status')).to_contain_text('Set the object')
    other.locator('#teach_names textarea').fill('a, b, c')
    other.locator('#teach_set').click()
    expect(other.locator('#teach_status')).to_contain_text('3 keypoints. Add images')
    page.locator('#teach_hidden').click()
    expect(page.locator('#teach_status')).to_contain_text('1/2 keypoints done')
    assert re.search(r'Click: \S*base', page.locator('#teach_status').inner_text())


def test_each_browser_session_gets_its_own_session_at_its_first_event(model, tmp_path):
    """No page-load event writes the session state: under load it could run after the
    user's first events and replace the Session they labelled in (a CI failure:
    "Set the keypoint names first" right after the names were set). Gradio's own
    SessionState hands each browser session a new Session, kept across events."""
    import gradio as gr
    from gradio.state_holder import SessionState
    from genloc_mmpose.app.predict import Predictor
    from genloc_mmpose.app.ui import Session, build_app
    app = build_app(Predictor(*model, device='cpu'), str(tmp_path))
    state_id, = [b._id for b in app.blocks.values() if isinstance(b, gr.State)]
    for fn in app.fns.values():
        if any(event == 'load' for _, event in fn.targets):
            assert state_id not in [o._id for o in fn.outputs], fn.name
    first, second = SessionState(app), SessionState(app)
    mine = first[state_id]
    assert isinstance(mine, Session) and mine.root == str(tmp_path)
    mine.labels.set_keypoints('person', ['tip', 'base'], [])
    assert first[state_id] is mine and first[state_id].labels.names == ['tip', 'base']
    theirs = second[state_id]
    assert theirs is not mine and theirs.labels.names == [] and theirs.root == str(tmp_path)


def test_cli_without_demo_model(monkeypatch, tmp_path):
    from genloc_mmpose.app import cli
    monkeypatch.setattr(cli, 'DEMO_CONFIG', str(tmp_path / 'genloc_demo.py'))
    with pytest.raises(FileNotFoundError, match='genloc_demo.py.* missing.*: run `genloc-demo` '
                       r'\(`make demo` in a checkout\) first, or pass CONFIG CHECKPOINT'):
        cli.resolve_model(None, None)
    resolve_model = cli.resolve_model
    with pytest.raises(ValueError, match='without CHECKPOINT'):
        resolve_model(TINY_CONFIG, None)
    with pytest.raises(FileNotFoundError, match='CHECKPOINT nope.pth is not a file'):
        resolve_model(TINY_CONFIG, 'nope.pth')


@pytest.mark.slow
def test_train_job_failure_and_cancel(tmp_path, monkeypatch):
    """A training process that fails leaves its log's end as the error; Cancel stops a
    running one (the tool replaced by stand-ins: the real one runs in the Teach test)."""
    from genloc_mmpose.app import teach
    from genloc_mmpose.app.labels import LabelSet
    labels = LabelSet()
    labels.set_keypoints('person', TEACH_NAMES, [])
    labels.add_images([image_path(i) for i in TEACH_IMAGES], str(tmp_path / 'images'))
    for _ in range(3):
        labels.click(300, 200)
        labels.go(1)
    tool = tmp_path / 'tool.py'  # argv: CONFIG --work-dir DIR --cfg-options ...
    tool.write_text('import sys, time\n'
                    'if "fail" in sys.argv[3]:\n'
                    '    sys.exit("Traceback ...\\nRuntimeError: the loss is NaN")\n'
                    'time.sleep(60)\n')
    monkeypatch.setattr(teach, 'TRAIN_COMMAND', [sys.executable, str(tool)])
    failing = teach.TrainJob.from_labels(labels, str(tmp_path / 'fail'), epochs=1)
    failing.proc.wait(60)
    assert failing.state == 'failed' and failing.checkpoint() is None
    assert failing.error().endswith('RuntimeError: the loss is NaN\n')
    running = teach.TrainJob.from_labels(labels, str(tmp_path / 'slow'), epochs=1)
    assert running.state == 'running' and running.total == 1
    running.cancel()
    assert running.state == 'cancelled' and running.proc.returncode is not None


def test_labels_from_coco_json(tmp_path):
    """Teach's "load a COCO keypoints json": names, skeleton, object, and the first
    object of each image, exported again unchanged (v=1 stays 1)."""
    from genloc_mmpose.app.labels import LabelSet
    with open(osp.join(COCO, 'test_coco.json')) as f:
        source = json.load(f)
    labels = LabelSet()
    message = labels.load_coco(osp.join(COCO, 'test_coco.json'))
    assert message == ('17 keypoints of "person", labels of 4 images (10 further objects '
                       'dropped: one object per image)')
    labels.add_images([image_path(40083), image_path(785)], str(tmp_path))
    coco = labels.to_coco()
    assert coco['categories'][0]['skeleton'] == source['categories'][0]['skeleton']
    first = {}
    for ann in source['annotations']:
        first.setdefault(ann['image_id'], ann)
    assert [a['image_id'] for a in coco['annotations']] == [1, 2]
    for ann, image_id in zip(coco['annotations'], (40083, 785)):
        assert ann['keypoints'] == first[image_id]['keypoints']
        np.testing.assert_allclose(ann['bbox'], first[image_id]['bbox'], rtol=1e-6)
    assert 1 in coco['annotations'][0]['keypoints'][2::3]


def test_example_rows_bring_their_labelled_boxes():
    """The served model's examples first, each with the boxes of the COCO json beside
    it (crowd regions left out; none labelled: '', the whole image)."""
    from genloc_mmpose.app.ui import example_rows
    from genloc_mmpose.resources import DEMO_EXAMPLES
    rows = example_rows(DEMO_EXAMPLES, first='creatures')
    folders = [osp.basename(osp.dirname(path)) for path, _ in rows]
    assert folders[:4] == ['creatures'] * 4 and set(folders) == {'creatures', 'coco', 'ap10k'}
    with open(osp.join(DEMO_EXAMPLES, 'creatures', 'test_creatures.json')) as f:
        creatures = json.load(f)
    for (path, boxes), image, ann in zip(rows, creatures['images'], creatures['annotations']):
        assert osp.basename(path) == image['file_name']
        np.testing.assert_allclose([float(v) for v in boxes.split(',')],
                                   np.add(ann['bbox'], [0, 0, *ann['bbox'][:2]]))
    with open(osp.join(DEMO_EXAMPLES, 'coco', 'test_coco.json')) as f:
        coco = json.load(f)
    boxes = dict(rows)[osp.join(DEMO_EXAMPLES, 'coco', '000000000785.jpg')].splitlines()
    assert len(boxes) == sum(a['image_id'] == 785 and not a.get('iscrowd')
                             for a in coco['annotations']) >= 1
    assert LOOK_BOX in [[round(float(v)) for v in b.split(',')] for b in boxes]
