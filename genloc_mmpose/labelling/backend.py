"""GenLoc as a Label Studio ML backend: Label Studio's documented HTTP protocol
(``/health``, ``/setup``, ``/predict``, ``/webhook``; the one of its
``label_studio_ml`` package) over one GenLoc model per project.

Why not ``label-studio-ml`` itself: PyPI's release (1.0.9, 2023) pins Flask 1.1.2,
Jinja2 3.0.3 and Werkzeug 2.0.2, and its maintained 2.x lives on GitHub only (it needs
``label-studio-sdk`` from git); neither can live beside MMPose and the app's gradio.
The protocol is four JSON routes, served here with FastAPI (gradio's own server).

Per project: predictions come from the project's current model (at first the served
CONFIG + CHECKPOINT). ``START_TRAINING`` (Label Studio's "Start Training" button, or a
``/webhook`` event) fetches the project's annotations through Label Studio's REST API,
converts them to COCO keypoints, holds out a seeded fifth of the labelled images,
trains on the rest with the served model's own recipe and prior (the app's Teach
machinery, :class:`~genloc_mmpose.app.teach.TrainJob`: one run per project at a time;
events during a run start one more run after it) and switches the project to the new
model when its PCK@0.1 on the held-out images is at least the current model's;
``model_version`` changes, and Label Studio asks for new predictions.
"""
import json
import logging
import os
import os.path as osp
import re
import threading
import urllib.parse
from dataclasses import asdict, dataclass
from typing import Dict, List, Optional, Sequence

import numpy as np

from ..fileio import atomic_write
from .label_studio import LabellingConfig, latest_annotation, objects, to_coco, to_results

logger = logging.getLogger('genloc.labelstudio')
# Label Studio posts every project event to the backend's /webhook; training takes
# minutes, so by default only "Start Training" trains (train_on_annotations: each
# submitted or updated annotation too, coalesced into one run after the current one)
TRAIN_EVENTS = ('START_TRAINING', )
ANNOTATION_EVENTS = ('ANNOTATION_CREATED', 'ANNOTATION_UPDATED')
VAL_FRACTION = 0.2  # held-out share of the labelled images (seeded, at least one)
PCK_THR = 0.1  # of the object box's longer side


@dataclass
class ProjectModel:
    """A project's model: config, checkpoint, ``version`` (Label Studio's
    ``model_version``) and its held-out PCK@0.1 when trained here."""
    config: str
    checkpoint: str
    version: str
    val_pck: Optional[float] = None


class LabelStudio:
    """The REST API of one Label Studio server (``url``, a user's API token: a legacy
    token, or a personal access token exchanged for an access token)."""

    def __init__(self, url: str, token: str):
        import requests
        self.url = url.rstrip('/')
        self.session = requests.Session()
        if token.count('.') == 2:  # a personal access token (JWT refresh token)
            reply = self.session.post(f'{self.url}/api/token/refresh',
                                      json=dict(refresh=token), timeout=30)
            reply.raise_for_status()
            self.session.headers['Authorization'] = f'Bearer {reply.json()["access"]}'
        else:
            self.session.headers['Authorization'] = f'Token {token}'

    def get(self, path: str, **params):
        reply = self.session.get(f'{self.url}{path}', params=params, timeout=120)
        reply.raise_for_status()
        return reply.json()

    def annotated_tasks(self, project: int) -> List[dict]:
        """The project's tasks that have annotations, with them (its JSON export)."""
        return self.get(f'/api/projects/{project}/export', exportType='JSON')

    def download(self, url: str, path: str) -> str:
        """The task image at ``url`` (``/data/...`` on this server, or absolute) as
        ``path``, fetched once."""
        if not osp.isfile(path):
            reply = self.session.get(urllib.parse.urljoin(self.url + '/', url), timeout=120)
            reply.raise_for_status()
            atomic_write(path, reply.content, 'wb')
        return path


class GenLocBackend:
    """The models and training runs behind the protocol.

    Args:
        config, checkpoint (str): The served model (every project starts on it).
        work_dir (str): Downloaded images, training runs and each project's model.
        device (str, optional): ``cpu`` / ``cuda``.
        label_studio_url, api_key (str, optional): Label Studio's address and an API
            token for the annotations and images (default: ``LABEL_STUDIO_URL`` /
            ``LABEL_STUDIO_API_KEY``, else what ``/setup`` sends: the hostname and the
            project owner's token).
        train_epochs (int, optional): Training length in passes over the labelled
            objects (default: the recipe's budget).
        score_thr (float, optional): Keypoints scoring under it are not
            pre-annotated (default: the checkpoint's stored threshold, else 0.3).
        train_on_annotations (bool): Train on annotation events too (default: on
            ``START_TRAINING`` only).
        det_config, det_checkpoint (str, optional): An mmdet detector for the boxes of
            tasks that have none (else the whole image); ``det_cat_ids`` its classes.
    """

    def __init__(self, config: str, checkpoint: str, work_dir: str,
                 device: Optional[str] = None, label_studio_url: Optional[str] = None,
                 api_key: Optional[str] = None, train_epochs: Optional[int] = None,
                 score_thr: Optional[float] = None, train_on_annotations: bool = False,
                 det_config: Optional[str] = None, det_checkpoint: Optional[str] = None,
                 det_cat_ids: Sequence[int] = (0, )):
        from ..app.teach import teach_recipe
        self.served = ProjectModel(config, checkpoint, f'genloc-{_stem(checkpoint)}')
        self.work_dir = work_dir
        self.device = device or 'cpu'
        self.train_epochs = train_epochs
        self.score_thr = score_thr
        self.detector = dict(det_config=det_config, det_checkpoint=det_checkpoint,
                             det_cat_ids=tuple(det_cat_ids))
        self.train_events = TRAIN_EVENTS + (ANNOTATION_EVENTS if train_on_annotations else ())
        self.recipe, self.recipe_text = teach_recipe(config)
        self.ls_url = label_studio_url or os.environ.get('LABEL_STUDIO_URL')
        self.ls_key = api_key or os.environ.get('LABEL_STUDIO_API_KEY')
        self._servers: Dict[str, dict] = {}  # project -> what /setup sent
        self._clients: Dict[tuple, LabelStudio] = {}  # (url, token) -> its client
        self._predictors = {}
        self._jobs: Dict[str, dict] = {}  # project -> {'job', 'pending', 'state', ...}
        self._lock = threading.RLock()
        os.makedirs(osp.join(work_dir, 'images'), exist_ok=True)

    # -- models ----------------------------------------------------------------
    def _state_file(self, project: str) -> str:
        return osp.join(self.work_dir, 'projects', project, 'model.json')

    def model(self, project: str) -> ProjectModel:
        """The project's current model (the served one until a run replaces it)."""
        try:
            with open(self._state_file(project)) as f:
                return ProjectModel(**json.load(f))
        except FileNotFoundError:
            return self.served

    def _set_model(self, project: str, model: ProjectModel) -> None:
        path = self._state_file(project)
        os.makedirs(osp.dirname(path), exist_ok=True)
        atomic_write(path, json.dumps(asdict(model)), 'w')

    def predictor(self, model: ProjectModel):
        from ..app.predict import Predictor
        with self._lock:
            if model.checkpoint not in self._predictors:
                self._predictors[model.checkpoint] = Predictor(
                    model.config, model.checkpoint, device=self.device, **self.detector)
            return self._predictors[model.checkpoint]

    # -- Label Studio ----------------------------------------------------------
    def setup(self, project: str, hostname: Optional[str] = None,
              access_token: Optional[str] = None) -> str:
        """Remember where the project's Label Studio is; its model version."""
        if hostname or access_token:
            self._servers[project] = dict(url=hostname, token=access_token)
        return self.model(project).version

    def client(self, project: str) -> LabelStudio:
        sent = self._servers.get(project, {})
        url, key = self.ls_url or sent.get('url'), self.ls_key or sent.get('token')
        if not (url and key):
            raise RuntimeError(
                'No Label Studio to fetch from: set LABEL_STUDIO_URL and '
                'LABEL_STUDIO_API_KEY (Account & Settings > Access Token) for the backend, '
                'or connect it to the project again (Label Studio sends both on /setup).')
        with self._lock:
            if (url, key) not in self._clients:
                self._clients[url, key] = LabelStudio(url, key)
            return self._clients[url, key]

    def image(self, project: str, task: dict, key: str) -> str:
        """The local file of a task's image (downloaded once)."""
        url = task['data'][key]
        if osp.isfile(url):
            return url
        name = re.sub(r'[^A-Za-z0-9._-]+', '_', osp.basename(urllib.parse.urlparse(url).path))
        return self.client(project).download(
            url, osp.join(self.work_dir, 'images', f'{task["id"]}_{name}'))

    def predict(self, project: str, tasks: List[dict], label_config: str) -> List[dict]:
        """One prediction per task: the objects in its newest annotation's boxes, else
        in the detector's boxes (when there is one), else one in the whole image."""
        config = LabellingConfig.parse(label_config)
        model = self.model(project)
        predictor = self.predictor(model)
        missing = sorted(set(config.names) - set(predictor.names))
        if missing:
            logger.warning('project %s: the model (%s) has no keypoints named %s; they are '
                           'not pre-annotated until a training run on the project',
                           project, model.version, missing)
        thr = self.score_thr
        if thr is None:
            from ..app.predict import DEFAULT_SCORE_THR
            thr = DEFAULT_SCORE_THR if predictor.score_thr is None else predictor.score_thr
        out = []
        for task in tasks:
            path = self.image(project, task, config.image_key)
            annotation = latest_annotation(task)
            boxes = [o['box'] for o in (objects(config, annotation) if annotation else [])
                     if o['box']]
            source = 'my boxes' if boxes else (
                'detector' if 'detector' in predictor.sources else 'whole image')
            pred = predictor.predict(path, np.array(boxes) if boxes else None, source=source)
            height, width = pred.drawing.shape[:2]
            result = to_results(config, pred.names, pred.keypoints, pred.scores,
                                pred.bboxes, width, height, thr)
            out.append(dict(result=result, model_version=model.version,
                            score=float(pred.scores.mean())))
        return out

    # -- training --------------------------------------------------------------
    def fit(self, project: str, label_config: str) -> dict:
        """Start a training run on the project's annotations (or, during a run, one
        more after it)."""
        with self._lock:
            state = self._jobs.get(project)
            if state and state['state'] in ('fetching', 'training', 'evaluating'):
                state['pending'] = True
                return dict(status='queued', detail='a run is going on: one more follows it')
            state = self._jobs[project] = dict(state='fetching', pending=False, job=None,
                                               detail='')
        threading.Thread(target=self._run, args=(project, label_config, state),
                         daemon=True).start()
        return dict(status='started')

    def job(self, project: str) -> dict:
        """The project's last run: state (fetching / training / evaluating / done /
        kept / failed / cancelled / too few), detail, model version."""
        state = dict(self._jobs.get(project) or dict(state='none', detail=''))
        state.pop('job', None)
        return dict(state, model_version=self.model(project).version)

    def cancel(self, project: str) -> dict:
        state = self._jobs.get(project)
        if state and state['job'] is not None:
            state['pending'] = False
            state['job'].cancel()
        return self.job(project)

    def _run(self, project, label_config, state):
        try:
            while True:
                self._train_once(project, label_config, state)
                with self._lock:
                    if not state.pop('pending', False):
                        break
                    state.update(state='fetching', pending=False)
        except Exception as err:  # reported by /jobs and the log
            logger.exception('project %s: training run failed', project)
            state.update(state='failed', detail=f'{type(err).__name__}: {err}')

    def _train_once(self, project, label_config, state):
        from ..app.labels import MIN_IMAGES
        from ..app.teach import TrainJob
        from ..custom_keypoints import split_by_image
        config = LabellingConfig.parse(label_config)
        tasks = self.client(project).annotated_tasks(int(project))
        files = {t['id']: osp.basename(self.image(project, t, config.image_key))
                 for t in tasks if latest_annotation(t)}
        coco = to_coco(config, tasks, files, config.box_label or 'object')
        if len(coco['images']) < MIN_IMAGES + 1:
            state.update(state='too few', detail=(
                f'{len(coco["images"])} annotated images: at least {MIN_IMAGES + 1} are '
                f'needed ({MIN_IMAGES} to train on, 1 held out)'))
            return
        train, val = split_by_image(coco, VAL_FRACTION, 0, f'project {project}')
        runs = osp.join(self.work_dir, 'projects', project, 'runs')
        folder = osp.join(runs, f'run{len(os.listdir(runs)) + 1 if osp.isdir(runs) else 1}')
        job = TrainJob(train, osp.join(self.work_dir, 'images'), config.box_label or 'object',
                       folder, epochs=self.train_epochs, device=self.device,
                       recipe=self.recipe, val=val)
        state.update(state='training', job=job, detail=f'{len(train["images"])} train, '
                     f'{len(val["images"])} held-out images; recipe: {self.recipe_text}')
        job.proc.wait()
        if job.state != 'done':
            state.update(state=job.state, detail=job.error() if job.state == 'failed' else '')
            return
        state['state'] = 'evaluating'
        current = self.model(project)
        new = ProjectModel(job.config, job.checkpoint(),
                           f'genloc-project{project}-{osp.basename(folder)}')
        images = osp.join(self.work_dir, 'images')
        new.val_pck = held_out_pck(self.predictor(new), val, images)
        old_pck = held_out_pck(self.predictor(current), val, images)
        detail = (f'held-out PCK@{PCK_THR}: new {new.val_pck:.3f}, current '
                  f'({current.version}) {old_pck:.3f}')
        if new.val_pck >= old_pck:
            self._set_model(project, new)
            state.update(state='done', detail=f'{detail}: switched to {new.version}')
        else:
            state.update(state='kept', detail=f'{detail}: kept {current.version}')
        logger.info('project %s: %s', project, state['detail'])


def held_out_pck(predictor, coco: dict, image_dir: str) -> float:
    """PCK@0.1 of ``predictor`` on COCO keypoints ``coco`` (its boxes given), by MMPose's
    ``keypoint_pck_accuracy`` (distances over each box's longer side, the mean of the
    per-keypoint accuracies); keypoints the model has no name for count as misses."""
    from mmpose.evaluation.functional import keypoint_pck_accuracy
    names = coco['categories'][0]['keypoints']
    preds, gts, sizes = [], [], []
    for image in coco['images']:
        anns = [a for a in coco['annotations'] if a['image_id'] == image['id']]
        if not anns:
            continue
        boxes = np.array([[x, y, x + w, y + h] for x, y, w, h in (a['bbox'] for a in anns)])
        pred = predictor.predict(osp.join(image_dir, image['file_name']), boxes,
                                 source='my boxes')
        found = np.full((len(anns), len(names), 2), np.inf)  # unknown names: misses
        for k, name in enumerate(names):
            if name in pred.names:
                found[:, k] = pred.keypoints[:, pred.names.index(name)]
        preds.append(found)
        gts += [np.reshape(a['keypoints'], (-1, 3)) for a in anns]
        sizes += [max(a['bbox'][2:]) for a in anns]
    gt = np.stack(gts)
    _, pck, _ = keypoint_pck_accuracy(np.concatenate(preds), gt[..., :2], gt[..., 2] > 0,
                                      PCK_THR, np.repeat(np.array(sizes)[:, None], 2, 1))
    return float(pck)


def _stem(path: str) -> str:
    return osp.splitext(osp.basename(path))[0]


def create_app(backend: GenLocBackend):
    """The FastAPI app of Label Studio's ML-backend protocol (and ``/jobs/{project}``,
    ``/jobs/{project}/cancel`` for a run's state)."""
    from fastapi import FastAPI, Request
    from fastapi.responses import JSONResponse
    app = FastAPI(title='GenLoc ML backend for Label Studio')

    def project_id(value) -> str:
        return str(value).split('.', 1)[0]  # Label Studio sends "<id>.<created_at>"

    @app.exception_handler(ValueError)
    async def bad_input(request: Request, err: ValueError):
        return JSONResponse(status_code=400, content=dict(error=str(err)))

    @app.get('/')
    @app.get('/health')
    def health():
        return dict(status='UP', model_class='GenLocBackend')

    @app.post('/setup')
    def setup(body: dict):
        return dict(model_version=backend.setup(
            project_id(body.get('project')), body.get('hostname'), body.get('access_token')))

    @app.post('/predict')
    def predict(body: dict):
        return dict(results=backend.predict(project_id(body.get('project')),
                                            body.get('tasks') or [], body['label_config']))

    @app.post('/webhook', status_code=201)
    def webhook(body: dict):
        if body.get('action') not in backend.train_events:
            return dict(status='ignored', detail=f'{body.get("action")}: not a training event')
        project = body['project']
        return dict(status='ok', result=backend.fit(str(project['id']),
                                                    project['label_config']))

    @app.get('/metrics')
    def metrics():
        return {}

    @app.get('/jobs/{project}')
    def job(project: str):
        return backend.job(project)

    @app.post('/jobs/{project}/cancel')
    def cancel(project: str):
        return backend.cancel(project)

    return app


def serve(backend: GenLocBackend, host: str, port: int) -> None:
    import uvicorn
    uvicorn.run(create_app(backend), host=host, port=port, log_level='info')
