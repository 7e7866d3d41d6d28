"""GenLoc inside labelling tools, against the real things: a Label Studio server from
PyPI (.venv-label-studio, built by tools/setup_test_env.sh; SQLite, 127.0.0.1) with the
backend process beside it (tools/label_studio.py serve), driven through Label Studio's
REST API and, for the labelling page, Chromium; the CVAT function through cvat-cli's
own loader and cvat-sdk's own validation (no CVAT server is installable here)."""
import json
import os
import os.path as osp
import shutil
import socket
import subprocess
import sys
import time

import numpy as np
import pytest
import requests
from conftest import REPO, TEST_DATA, TINY_CONFIG

LS_BIN = osp.join(REPO, '.venv-label-studio', 'bin', 'label-studio')
TOKEN = '0123456789abcdef0123456789abcdef01234567'  # the test user's legacy API token
USER, PASSWORD = 'test@genloc.local', 'genloc-test-password'
COCO = osp.join(TEST_DATA, 'coco')
IMAGES = ['000000000785.jpg', '000000040083.jpg', '000000196141.jpg', '000000197388.jpg']
# a keypoint set the served model (COCO's 17) does not know: labelled at COCO's points
NEW_NAMES = {'head': 'nose', 'left hand': 'left_wrist', 'right hand': 'right_wrist',
             'left foot': 'left_ankle', 'right foot': 'right_ankle'}
TRAIN_EPOCHS = 50  # 100 iterations of the tiny recipe


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def start(cmd, url, log_path, env=None, timeout=300):
    """A server process, once ``url`` answers."""
    log = open(log_path, 'w')
    proc = subprocess.Popen(cmd, cwd=REPO, stdout=log, stderr=subprocess.STDOUT, env=env)
    deadline = time.time() + timeout
    while True:
        assert proc.poll() is None, open(log_path).read()[-3000:]
        try:
            if requests.get(url, timeout=5).status_code < 500:
                return proc, log
        except requests.RequestException:
            pass
        assert time.time() < deadline, open(log_path).read()[-3000:]
        time.sleep(1)


def stop(proc, log):
    proc.terminate()
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        proc.kill()
    log.close()


@pytest.fixture(scope='module')
def label_studio(tmp_path_factory):
    """A Label Studio server on a free port: (url, an API session)."""
    template = osp.join(REPO, '.venv-label-studio', 'template-data')
    assert osp.isfile(LS_BIN) and osp.isdir(template), \
        f'{LS_BIN} or {template} missing: run `make test-env` (tools/setup_test_env.sh)'
    data = tmp_path_factory.mktemp('label_studio') / 'data'
    shutil.copytree(template, data)  # a migrated, empty database
    port = free_port()
    url = f'http://127.0.0.1:{port}'
    # Label Studio refuses ML backends (ML_BLOCK_LOCAL_IP) and their webhooks
    # (SSRF_PROTECTION_ENABLED) on local addresses by default
    env = dict(os.environ, LATEST_VERSION_CHECK='false', COLLECT_ANALYTICS='false',
               ML_BLOCK_LOCAL_IP='false', SSRF_PROTECTION_ENABLED='false')
    env.pop('VIRTUAL_ENV', None)
    proc, log = start(
        [LS_BIN, 'start', '--no-browser', '--data-dir', str(data), '--port', str(port),
         '--host', url, '--internal-host', '127.0.0.1', '--username', USER,
         '--password', PASSWORD, '--user-token', TOKEN, '--enable-legacy-api-token'],
        f'{url}/health', str(data / 'server.log'), env=env)
    api = requests.Session()
    api.headers['Authorization'] = f'Token {TOKEN}'
    yield url, api
    stop(proc, log)


@pytest.fixture(scope='module')
def backend(coco_ckpt, tmp_path_factory):
    """tools/label_studio.py serve on the tiny COCO model: (url, work dir)."""
    work_dir = tmp_path_factory.mktemp('backend')
    port = free_port()
    url = f'http://127.0.0.1:{port}'
    proc, log = start(
        [sys.executable, 'tools/label_studio.py', 'serve', TINY_CONFIG, coco_ckpt[1],
         '--device', 'cpu', '--port', str(port), '--work-dir', str(work_dir),
         '--train-epochs', str(TRAIN_EPOCHS), '--score-thr', '0'],
        f'{url}/health', str(work_dir / 'backend.log'),
        env=dict(os.environ, OMP_NUM_THREADS='1'))
    yield url, str(work_dir)
    stop(proc, log)


@pytest.fixture(scope='module')
def shots(tmp_path_factory):
    folder = (os.environ.get('GENLOC_LABELLING_SCREENSHOTS')
              or str(tmp_path_factory.mktemp('shots')))
    os.makedirs(folder, exist_ok=True)
    return folder


def show_task(ls, project, task, names, path):
    """Label Studio's labelling page of a task in Chromium, as its user meets it (log
    in, open the task): wait until the pre-annotation's keypoints are listed as
    regions, screenshot to ``path``."""
    from playwright.sync_api import expect, sync_playwright
    from test_app import CHROMIUM, CHROMIUM_ARGS, TIMEOUT_MS
    url, api = ls
    call(api, 'PATCH', f'{url}/api/projects/{project}',
         json=dict(show_collab_predictions=True,
                   model_version=predictions(ls, project)[task]['model_version']))
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={'width': 1400, 'height': 900})
        page.set_default_timeout(TIMEOUT_MS)
        page.goto(f'{url}/user/login/')
        page.fill('input[name=email]', USER)
        page.fill('input[name=password]', PASSWORD)
        page.click('button[type=submit]')
        page.wait_for_url(lambda u: '/user/login' not in u)
        page.goto(f'{url}/projects/{project}/data?task={task}')
        regions = page.locator('.lsf-outliner-item__title')  # the Regions panel
        for name in names:
            expect(regions.get_by_text(name, exact=True)).to_be_visible()
        page.wait_for_timeout(1000)  # the image's last paint
        page.screenshot(path=path)
        browser.close()


def call(api, method, url, **kwargs):
    reply = api.request(method, url, timeout=300, **kwargs)
    assert reply.ok, f'{method} {url}: {reply.status_code} {reply.text[:2000]}'
    return reply.json() if reply.content else None


def new_project(ls, backend_url, title, label_config):
    """A project with the four COCO sample images, connected to the backend:
    (project id, ML backend id, {image name: task})."""
    url, api = ls
    project = call(api, 'POST', f'{url}/api/projects',
                   json=dict(title=title, label_config=label_config,
                             show_collab_predictions=True))['id']
    files = [(name, (name, open(osp.join(COCO, name), 'rb'), 'image/jpeg'))
             for name in IMAGES]
    call(api, 'POST', f'{url}/api/projects/{project}/import', files=files)
    ml = call(api, 'POST', f'{url}/api/ml',
              json=dict(url=backend_url, project=project, title='GenLoc'))['id']
    tasks = call(api, 'GET', f'{url}/api/tasks', params=dict(project=project))['tasks']
    by_image = {name: t for t in tasks for name in IMAGES if t['data']['image'].endswith(name)}
    assert len(by_image) == len(IMAGES)
    return project, ml, by_image


def predictions(ls, project):
    """Ask Label Studio for the ML backend's predictions of every task (its "Retrieve
    Predictions" action) and read them back: {task id: newest prediction}."""
    url, api = ls
    call(api, 'POST', f'{url}/api/dm/actions',
         params=dict(id='retrieve_tasks_predictions', project=project),
         json=dict(selectedItems=dict(all=True, excluded=[])))
    out = {}
    for pred in call(api, 'GET', f'{url}/api/predictions', params=dict(project=project)):
        if pred['task'] not in out or pred['id'] > out[pred['task']]['id']:
            out[pred['task']] = pred
    return out


def points(prediction, config_names):
    """{name: (x %, y %)} of the keypoints of a prediction's first object (under its
    first box)."""
    boxes = [r['id'] for r in prediction['result'] if r['type'] == 'rectanglelabels']
    return {r['value']['keypointlabels'][0]: (r['value']['x'], r['value']['y'])
            for r in prediction['result'] if r['type'] == 'keypointlabels'
            and r['value']['keypointlabels'][0] in config_names
            and r.get('parentID') == boxes[0]}


def coco_objects(name):
    """The COCO sample's people of one image: [(box x1, y1, x2, y2, keypoints (17, 3))]."""
    with open(osp.join(COCO, 'test_coco.json')) as f:
        coco = json.load(f)
    image = next(i for i in coco['images'] if i['file_name'] == name)
    out = []
    for ann in coco['annotations']:
        if ann['image_id'] == image['id'] and ann['num_keypoints'] >= 10:
            x, y, w, h = ann['bbox']
            out.append(([x, y, x + w, y + h], np.reshape(ann['keypoints'], (17, 3))))
    return image['width'], image['height'], out


def test_predictions_are_the_inferencers_keypoints(label_studio, backend, coco_ckpt,
                                                   tmp_path, shots):
    from genloc_mmpose.app.predict import Predictor
    from genloc_mmpose.labelling.cli import main as cli
    from genloc_mmpose.labelling.label_studio import LabellingConfig
    xml_file = tmp_path / 'coco.xml'
    cli(['config', '--checkpoint', coco_ckpt[1], '--object', 'person', '-o', str(xml_file)])
    xml = xml_file.read_text()
    config = LabellingConfig.parse(xml)
    assert len(config.names) == 17 and config.names[0] == 'nose'
    assert config.box_label == 'person' and config.boxes == 'keypoints_bbox'
    project, _, tasks = new_project(label_studio, backend[0], 'GenLoc COCO', xml)
    preds = predictions(label_studio, project)
    assert len(preds) == len(IMAGES)
    predictor = Predictor(TINY_CONFIG, coco_ckpt[1], device='cpu')
    for name, task in tasks.items():
        pred = preds[task['id']]
        assert pred['model_version'] == f'genloc-{osp.splitext(osp.basename(coco_ckpt[1]))[0]}'
        boxes = [r for r in pred['result'] if r['type'] == 'rectanglelabels']
        kpts = [r for r in pred['result'] if r['type'] == 'keypointlabels']
        assert len(boxes) == 1 and len(kpts) == 17  # the whole image, --score-thr 0
        assert all(r['parentID'] == boxes[0]['id'] for r in kpts)
        ref = predictor.predict(osp.join(COCO, name))
        height, width = ref.drawing.shape[:2]
        assert boxes[0]['value']['width'] == pytest.approx(100, abs=1e-6)
        got = points(pred, config.names)
        for k, kname in enumerate(ref.names):
            x, y = ref.keypoints[0, k]
            assert got[kname] == pytest.approx((100 * x / width, 100 * y / height), abs=0.01)
    # ... and render on the labelling page
    show_task(label_studio, project, tasks[IMAGES[0]]['id'], config.names[:3],
              osp.join(shots, 'label_studio_coco.png'))


@pytest.mark.long  # 66 s: past make test's budget, in make test-long
def test_training_from_annotations_switches_the_model(label_studio, backend, shots):
    from genloc_mmpose.labelling.label_studio import labelling_config
    url, api = label_studio
    names = list(NEW_NAMES)
    xml = labelling_config(names, [[255, 0, 0]] * len(names), 'person')
    project, ml, tasks = new_project(label_studio, backend[0], 'GenLoc new set', xml)
    before = predictions(label_studio, project)
    # the served model has none of these names: boxes only, no keypoint
    assert all(not points(p, names) for p in before.values())
    coco_names = ['nose', 'left_eye', 'right_eye', 'left_ear', 'right_ear', 'left_shoulder',
                  'right_shoulder', 'left_elbow', 'right_elbow', 'left_wrist', 'right_wrist',
                  'left_hip', 'right_hip', 'left_knee', 'right_knee', 'left_ankle',
                  'right_ankle']
    truth = {}  # task id: {name: (x %, y %)} of the first person
    for name, task in tasks.items():
        width, height, people = coco_objects(name)
        result = []
        for n, (box, kpts) in enumerate(people):
            x1, y1, x2, y2 = box
            common = dict(to_name='image', original_width=width, original_height=height)
            result.append(dict(common, id=f'p{n}', from_name='keypoints_bbox',
                               type='rectanglelabels', value=dict(
                                   x=100 * x1 / width, y=100 * y1 / height,
                                   width=100 * (x2 - x1) / width,
                                   height=100 * (y2 - y1) / height, rotation=0,
                                   rectanglelabels=['person'])))
            for new, old in NEW_NAMES.items():
                x, y, v = kpts[coco_names.index(old)]
                if v > 0:
                    result.append(dict(common, id=f'p{n}-{new}', from_name='keypoints',
                                       type='keypointlabels', parentID=f'p{n}', value=dict(
                                           x=100 * x / width, y=100 * y / height, width=0.75,
                                           keypointlabels=[new])))
                    if n == 0:
                        truth.setdefault(task['id'], {})[new] = (100 * x / width,
                                                                 100 * y / height)
        call(api, 'POST', f'{url}/api/tasks/{task["id"]}/annotations',
             json=dict(result=result, ground_truth=False))
    # Label Studio's "Start Training": its START_TRAINING webhook to the backend
    call(api, 'POST', f'{url}/api/ml/{ml}/train')
    deadline = time.time() + 600
    while True:
        job = call(api, 'GET', f'{backend[0]}/jobs/{project}')
        if job['state'] not in ('fetching', 'training', 'evaluating'):
            break
        assert time.time() < deadline, job
        time.sleep(2)
    assert job['state'] == 'done', job
    assert 'current (genloc-iter_300) 0.000' in job['detail']  # no keypoint of the set
    assert job['model_version'] == f'genloc-project{project}-run1'
    after = predictions(label_studio, project)
    # the new model pre-annotates the set: on the annotated images, nearer the labels
    # than the box centre is
    errors, centre = [], []
    for task_id, labelled in truth.items():
        pred = after[task_id]
        assert pred['model_version'] == job['model_version']
        got = points(pred, names)
        assert set(got) == set(names)
        box = next(r['value'] for r in pred['result'] if r['type'] == 'rectanglelabels')
        mid = (box['x'] + box['width'] / 2, box['y'] + box['height'] / 2)
        for name, xy in labelled.items():
            errors.append(np.hypot(*np.subtract(got[name], xy)))
            centre.append(np.hypot(*np.subtract(mid, xy)))
    print(f'{job["detail"]}; mean error of the pre-annotations {np.mean(errors):.2f} %, '
          f'of the box centre {np.mean(centre):.2f} %')
    assert np.mean(errors) < 0.5 * np.mean(centre), (np.mean(errors), np.mean(centre))
    show_task(label_studio, project, tasks[IMAGES[0]]['id'], names,
              osp.join(shots, 'label_studio_trained.png'))


def test_cvat_function_through_cvat_cli_and_sdk(coco_ckpt, tmp_path):
    """cvat-cli's own loader builds the function from ``-p`` parameters, cvat-sdk's
    annotation mapper validates and remaps its skeletons to a task's labels as a CVAT
    server holds them (what ``cvat-cli task auto-annotate`` does before uploading;
    the upload itself needs a CVAT server, not installable here)."""
    import logging

    import PIL.Image
    from cvat_cli._internal.common import FunctionLoader
    from cvat_cli._internal.parsers import parse_function_parameter
    from cvat_sdk import models
    from cvat_sdk.auto_annotation.driver import (_AnnotationMapper,
                                                 _DetectionFunctionContextImpl)

    from genloc_mmpose.app.predict import Predictor
    params = dict(parse_function_parameter(p) for p in [
        f'config=str:{TINY_CONFIG}', f'checkpoint=str:{coco_ckpt[1]}', 'device=str:cpu',
        'label=str:person'])
    function = FunctionLoader('genloc_mmpose.labelling.cvat', None, params).load()
    reference = Predictor(TINY_CONFIG, coco_ckpt[1], device='cpu')
    names = reference.names
    [label] = function.spec.labels
    assert (label.name, label.type) == ('person', 'skeleton')
    assert [s.name for s in label.sublabels] == names
    # the task's skeleton label as the server stores it: its own ids
    task_labels = [models.Label(
        name='person', id=40, type='skeleton', attributes=[],
        sublabels=[models.Sublabel(name=n, id=100 + k, type='points', attributes=[])
                   for k, n in enumerate(names)])]
    mapper = _AnnotationMapper(logging.getLogger('cvat'), function.spec.labels, task_labels,
                               allow_unmatched_labels=False, conv_mask_to_poly=False)
    for frame, name in enumerate(IMAGES[:2]):
        path = osp.join(COCO, name)
        for thr, outside in ((None, None), (1.0, True)):
            shapes = function.detect(_DetectionFunctionContextImpl(
                frame_name=name, conf_threshold=thr), PIL.Image.open(path))
            _, shapes = mapper.validate_and_remap(shapes, frame)
            [skeleton] = shapes
            assert (skeleton.label_id, skeleton.frame, str(skeleton.type)) == (40, frame, 'skeleton')
            assert [e.label_id for e in skeleton.elements] == [100 + k for k in range(17)]
            # the frame as cvat-sdk hands it over (a PIL image), through the app's model
            png = str(tmp_path / f'{frame}.png')
            PIL.Image.open(path).convert('RGB').save(png)
            ref = reference.predict(png)
            got = np.array([e.points for e in skeleton.elements])
            np.testing.assert_allclose(got, ref.keypoints[0], atol=1e-3)
            expected = ref.scores[0] < 0.3 if outside is None else np.ones(17, bool)
            assert [e.outside for e in skeleton.elements] == expected.tolist()
