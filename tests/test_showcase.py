"""The prior, shown where a person meets it (issue 28): the model ``make demo`` leaves
(GenLoc on the shipped miniature SD, 25 labelled creatures, the creature config's
1000 iterations, its score threshold chosen on validation creatures), served by the
app and driven in Chromium:

- Look on each example creature (picked as a person picks it: a click on the
  example, which brings its labelled box) draws its keypoints, on their parts;
- Teach on 10 labelled creatures trains from the served model's prior, and its model
  finds keypoints of held-out creatures (through Look) better than the same Teach run
  from random frozen weights of the same architecture.

Marked ``long``: about 25 minutes on 2 cores (three trainings of 1000 iterations),
past ``make test``'s budget; ``make test-long`` runs it, and CI runs both.
Numbers go to $GENLOC_SHOWCASE_OUT (a json) when set, and the screenshots to
$GENLOC_APP_SCREENSHOTS (else temporary folders).
"""
import json
import os
import os.path as osp

import numpy as np
import pytest
from test_app import (CHROMIUM, CHROMIUM_ARGS, TIMEOUT_MS, download, expect, running_app,
                      shots)  # noqa: F401 (shots: test_app's screenshot-folder fixture)

from conftest import REPO

pytestmark = pytest.mark.long
EXAMPLES = osp.join(REPO, 'demo', 'data', 'creatures')
TEACH_LABELS = 10  # labelled creatures Teach trains on (the experiments' pool, seed 0)
HELD_OUT = 30  # test creatures the taught models are scored on (after the examples)
TRAIN_MIN = 45  # a Teach run of 1000 iterations: ~10 min on one core; 4x for slow CI


def pck_and_epe(found, annotations):
    """PCK@0.1 as MMPose's PCKAccuracy (norm: the box's longer side) and the mean
    pixel error, over the labelled keypoints of ``annotations`` (COCO dicts), from
    ``found`` (N, K, 3) x, y, score."""
    from mmpose.evaluation.functional import keypoint_pck_accuracy
    gt = np.array([np.reshape(a['keypoints'], (-1, 3)) for a in annotations])
    mask = gt[..., 2] > 0
    norm = np.array([[max(a['bbox'][2:])] * 2 for a in annotations])
    _, pck, _ = keypoint_pck_accuracy(found[..., :2], gt[..., :2], mask, 0.1, norm)
    return float(pck), float(np.linalg.norm(found[..., :2] - gt[..., :2], axis=-1)[mask].mean())


@pytest.fixture(scope='module')
def served(tmp_path_factory):
    """``make demo``'s prior model, trained here: dict(config, checkpoint, score_thr,
    data (the creature data root), result (experiments.run's))."""
    import torch

    from genloc_mmpose.mini_sd import demo, experiments
    work = tmp_path_factory.mktemp('demo') / 'creatures'
    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        prior = experiments.run(str(work), 'prior', labels=demo.LABELS, seed=demo.SEED,
                                test_images=demo.TEST_IMAGES)
        score = demo.app_model(prior, str(work))
    finally:
        torch.set_num_threads(threads)
    return dict(config=str(work.parent / 'genloc_demo.py'),
                checkpoint=str(work.parent / 'genloc_demo.pth'),
                score_thr=score['score_thr'], data=str(work / 'data'), result=prior)


@pytest.fixture(scope='module')
def url(served, tmp_path_factory):
    """tools/app.py serving the demo model."""
    with running_app([served['config'], served['checkpoint']],
                     str(tmp_path_factory.mktemp('app_work'))) as url:
        yield url


@pytest.fixture(scope='module')
def new_page(url):
    from playwright.sync_api import sync_playwright
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)

        def open_page():
            context = browser.new_context(viewport={'width': 1280, 'height': 900},
                                          accept_downloads=True)
            context.set_default_timeout(TIMEOUT_MS)
            page = context.new_page()
            page.goto(url)
            page.wait_for_selector('#look_run')
            return page

        yield open_page
        browser.close()


@pytest.fixture(scope='module')
def record():
    """Numbers of the run, written to $GENLOC_SHOWCASE_OUT at the end when set."""
    numbers = {}
    yield numbers
    if os.environ.get('GENLOC_SHOWCASE_OUT'):
        with open(os.environ['GENLOC_SHOWCASE_OUT'], 'w') as f:
            json.dump(numbers, f, indent=1)


def find_keypoints(page, folder):
    """Click Find keypoints in Look: the (K, 3) x, y, score of its COCO results
    (one object)."""
    link = page.locator('#look_files a[download$=".json"]')
    before = link.get_attribute('href') if link.count() else None
    page.locator('#look_run').click()
    expect(link).to_have_count(1)
    if before is not None:
        expect(link).not_to_have_attribute('href', before)
    with open(download(page, '#look_files', '.json', folder)) as f:
        results = json.load(f)
    assert len(results) == 1, results
    return np.reshape(results[0]['keypoints'], (-1, 3))


def look_with_box(page, image, bbox, folder):
    """Look on an uploaded ``image`` in its box (COCO xywh, typed as My boxes)."""
    page.locator('#look_image input[type=file]').set_input_files(image)
    # the new image's boxes reset (by the server) before this one is typed
    expect(page.locator('#look_note')).to_contain_text(f'New image ({osp.basename(image)})')
    x, y, w, h = bbox
    page.locator('#look_boxes textarea').fill(f'{x}, {y}, {x + w}, {y + h}')
    page.locator('#look_source label', has_text='my boxes').click()
    return find_keypoints(page, folder)


def test_look_draws_the_keypoints_of_each_example_creature(new_page, served, shots, record,
                                                          tmp_path):
    """The served model's own threshold on the slider; on each example creature at least
    a third of the 18 keypoints drawn (scores at or over it), and the drawn ones on
    their parts: PCK@0.1 of the drawn keypoints over the four creatures at least 0.4
    (a point drawn uniformly in the box hits with probability ~0.03; the model's
    PCK@0.1 on 100 test creatures, every keypoint, is its result's)."""
    with open(osp.join(EXAMPLES, 'test_creatures.json')) as f:
        coco = json.load(f)
    page = new_page()
    thr = float(page.locator('#look_thr input[type=number]').input_value())
    assert thr == round(served['score_thr'], 2)
    found = []
    for image, ann in zip(coco['images'], coco['annotations']):
        page.locator(f'#look_examples img[src$="{image["file_name"]}"]').click()
        x, y, w, h = ann['bbox']
        expect(page.locator('#look_boxes textarea')).to_have_value(
            f'{x:g}, {y:g}, {x + w:g}, {y + h:g}')
        expect(page.locator('#look_source input[value="my boxes"]')).to_be_checked()
        found.append(find_keypoints(page, tmp_path))
        page.locator('#look_drawing img').wait_for()
        page.screenshot(path=osp.join(shots, f'showcase_look_{image["file_name"][:-4]}.png'),
                        full_page=True)
    found = np.array(found)
    drawn = found[..., 2] >= thr
    gt = np.array([np.reshape(a['keypoints'], (-1, 3)) for a in coco['annotations']])
    norm = np.array([max(a['bbox'][2:]) for a in coco['annotations']])[:, None]
    hit = np.linalg.norm(found[..., :2] - gt[..., :2], axis=-1) < 0.1 * norm
    labelled = gt[..., 2] > 0
    drawn_pck = float(hit[drawn & labelled].mean())
    record['look_examples'] = dict(score_thr=thr, drawn=drawn.sum(1).tolist(),
                                   drawn_pck=drawn_pck, pck=float(hit[labelled].mean()),
                                   model_pck_100=served['result']['PCK'])
    assert (drawn.sum(1) >= 6).all(), record['look_examples']
    assert drawn_pck >= 0.4, record['look_examples']


def test_teach_from_the_prior_beats_random_weights(new_page, served, shots, record,
                                                   tmp_path):
    """Two sessions load the same 10 labelled creatures (COCO json + images) into
    Teach and train at the served model's recipe, one from its prior, one from
    random frozen weights of its architecture, side by side; each taught model then
    finds the keypoints of 30 held-out creatures in Look (their boxes typed): the
    prior's scores higher PCK@0.1 with a lower pixel error."""
    from genloc_mmpose.mini_sd import experiments
    root = served['data']
    rel = experiments.subset(root, 'creatures_pool', f'pool_{TEACH_LABELS}_seed0',
                             TEACH_LABELS, 0)
    with open(osp.join(root, rel)) as f:
        labels = json.load(f)
    images = [osp.join(root, 'images', img['file_name']) for img in labels['images']]
    with open(osp.join(root, 'annotations', 'creatures_test.json')) as f:
        test = json.load(f)
    with open(osp.join(EXAMPLES, 'test_creatures.json')) as f:
        first = len(json.load(f)['images'])  # the examples: not among the held-out
    held_out = list(zip(test['images'], test['annotations']))[first:first + HELD_OUT]

    pages = {}
    for start in ("the served model's prior", 'random weights (same architecture)'):
        page = pages[start] = new_page()
        page.get_by_role('tab', name='Teach').click()
        page.locator('#teach_coco input[type=file]').set_input_files(osp.join(root, rel))
        expect(page.locator('#teach_message')).to_contain_text(
            f'18 keypoints of "creature", labels of {TEACH_LABELS} images')
        page.locator('#teach_images input[type=file]').set_input_files(images)
        expect(page.locator('#teach_message')).to_contain_text(f'Added {TEACH_LABELS} images')
        page.locator('#teach_start label', has_text=start).click()
        page.locator('#teach_train').click()
        expect(page.locator('#teach_train_message')).to_contain_text(
            "recipe: the served model's (1000 iterations")
    expect(pages['random weights (same architecture)'].locator(
        '#teach_train_message')).to_contain_text('from random frozen weights')
    expect(pages["the served model's prior"].locator(
        '#teach_train_message')).not_to_contain_text('from random frozen weights')

    scores = {}
    for start, page in pages.items():
        expect(page.locator('#teach_progress_state')).to_have_attribute(
            'data-state', 'done', timeout=TRAIN_MIN * 60_000)
        expect(page.locator('#teach_progress')).to_contain_text('done: 1000/1000')
        name = 'prior' if 'prior' in start else 'random'
        page.screenshot(path=osp.join(shots, f'showcase_teach_{name}.png'), full_page=True)
        page.get_by_role('tab', name='Look').click()
        expect(page.locator('#look_model input[value="taught: creature"]')).to_be_checked()
        found = np.array([
            look_with_box(page, osp.join(root, 'images', img['file_name']), ann['bbox'],
                          tmp_path) for img, ann in held_out])
        scores[name] = pck_and_epe(found, [ann for _, ann in held_out])
    record['teach'] = dict(labels=TEACH_LABELS, held_out=HELD_OUT, **{
        name: dict(PCK=pck, EPE=epe) for name, (pck, epe) in scores.items()})
    (pck_prior, epe_prior), (pck_random, epe_random) = scores['prior'], scores['random']
    assert pck_prior > pck_random and epe_prior < epe_random, record['teach']
