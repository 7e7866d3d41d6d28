"""The Gradio page: Look, By name and Teach (docs/app.md)."""
import dataclasses
import functools
import glob
import json
import os
import os.path as osp
import secrets
import time
from typing import List, Optional, Sequence

import gradio as gr
import numpy as np
import pandas as pd

from .labels import LabelSet, parse_names, parse_skeleton
from .predict import DEFAULT_SCORE_THR, Predictor
from .render import MAP_BOXES, TABLE_HEADERS, keypoint_table, map_gallery, write_outputs
from .teach import TrainJob, teach_recipe

DEFAULT_MODEL = 'served model'
IMAGE_TYPES = ['image']
# Teach's starts: the served model's prior, or the same architecture with random frozen
# weights (what the prior brings, on the user's own labels)
TEACH_STARTS = ["the served model's prior", 'random weights (same architecture)']


class Session:
    """One browser session's state: its folder (uploads, outputs, training runs),
    Teach labels, training job, taught model and a pending box corner in Look."""

    def __init__(self, root: str):
        self.root = root
        self._folder = None
        self.labels = LabelSet()
        self.job: Optional[TrainJob] = None
        self.taught: Optional[Predictor] = None
        self.corner = None

    def folder(self, *parts: str) -> str:
        """``root/session-<time>-<random>/parts``, created on first use."""
        if self._folder is None:
            self._folder = osp.join(self.root, time.strftime('session-%Y%m%d-%H%M%S-')
                                    + secrets.token_hex(4))
        path = osp.join(self._folder, *parts)
        os.makedirs(path, exist_ok=True)
        return path

    def close(self) -> None:
        """Stop a running training when the session ends."""
        if self.job is not None:
            self.job.cancel()

    def __deepcopy__(self, memo) -> 'Session':
        """A new, empty session under the same root: ``gr.State`` deep-copies its
        value for each browser session, and one session's labels, files and jobs are
        never another's."""
        return Session(self.root)


def _user_errors(fn):
    """Show ValueError / FileNotFoundError messages in the page (gr.Error)."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except (ValueError, FileNotFoundError) as err:
            raise gr.Error(str(err), print_exception=False) from err

    return wrapper


def parse_boxes(text: str) -> np.ndarray:
    """Boxes typed one per line as ``x1, y1, x2, y2`` (image pixels) -> (N, 4)."""
    boxes = []
    for line in filter(None, (s.strip() for s in (text or '').splitlines())):
        try:
            box = [float(v) for v in line.replace(',', ' ').split()]
        except ValueError:
            box = []
        if len(box) != 4:
            raise ValueError(f'Box {line!r}: type x1, y1, x2, y2 (image pixels), one box '
                             'per line.')
        boxes.append(box)
    return np.array(boxes, np.float32).reshape(-1, 4)


def _outputs(session: Session, pred, per_layer: bool, kpt_thr: float, stem: str):
    files = write_outputs(pred, session.folder('outputs'), stem)
    table = pd.DataFrame(keypoint_table(pred, kpt_thr), columns=TABLE_HEADERS)
    return pred.drawing, map_gallery(pred, per_layer), table, list(files)


def _named_partial(fn, *args):
    """``functools.partial(fn, *args)`` with ``fn``'s name and docstring: Gradio's API
    endpoint name and description."""
    bound = functools.partial(fn, *args)
    bound.__name__, bound.__doc__ = fn.__name__, fn.__doc__
    return bound


# -- Look ---------------------------------------------------------------------
# (the callbacks' names are the names of their API endpoints)
@_user_errors
def look(predictor, session, image, choice, source, boxes_text, flip, kpt_thr, per_layer):
    if not image:
        raise ValueError('Upload, paste or pick an image first.')
    boxes = parse_boxes(boxes_text) if source == 'my boxes' else None
    model = session.taught if choice != DEFAULT_MODEL and session.taught else predictor
    pred = model.predict(image, boxes, source=source, flip_test=flip, kpt_thr=kpt_thr)
    return _outputs(session, pred, per_layer, kpt_thr, 'look')


def box_corner(session, boxes_text, evt: gr.SelectData):
    """Two clicks on the image: opposite corners of a new box."""
    x, y = evt.index
    if session.corner is None:
        session.corner = (x, y)
        return boxes_text, gr.update(), f'Corner ({x}, {y}): click the opposite corner.'
    (x0, y0), session.corner = session.corner, None
    line = f'{min(x, x0)}, {min(y, y0)}, {max(x, x0)}, {max(y, y0)}'
    text = '\n'.join(filter(None, [(boxes_text or '').strip(), line]))
    return text, 'my boxes', f'Box {line} added.'


def new_image(session, source, image):
    """A new image: its boxes are to be drawn anew."""
    session.corner = None
    return ('', 'whole image' if source == 'my boxes' else source,
            f'New image{f" ({osp.basename(image)})" if image else ""}: click two corners '
            'on it to add a box, or find keypoints in the whole image.')


# -- By name ------------------------------------------------------------------
@_user_errors
def by_name(predictor, session, image, object_name, names_text, boxes_text, kpt_thr,
            per_layer):
    if not image:
        raise ValueError('Upload, paste or pick an image first.')
    names = parse_names(names_text or '')
    if not names:
        raise ValueError('Type one or more keypoint names ("left ear", "tail tip").')
    boxes = parse_boxes(boxes_text)
    pred = predictor.predict_by_name(
        names, object_name or 'object', image, boxes=boxes,
        source='my boxes' if len(boxes) else 'whole image', kpt_thr=kpt_thr)
    return _outputs(session, pred, per_layer, kpt_thr, 'by_name')


# -- Teach --------------------------------------------------------------------
def _teach_view(session):
    """The labels' status, view and keypoint radio."""
    labels = session.labels
    current = labels.names[labels.keypoint] if labels.names else None
    return (labels.status(), labels.view(),
            gr.update(choices=labels.names, value=current))


def _labelling(action):
    """A Teach handler: ``action(session, *args)`` edits the labels; returns
    (message, status, view, keypoint radio)."""

    @functools.wraps(action)
    def handler(session, *args):
        try:
            message = action(session, *args) or ''
        except (ValueError, FileNotFoundError) as err:
            message = f'**{err}**'
        return (message, ) + _teach_view(session)

    return handler


@_labelling
def set_keypoints(session, object_name, names_text, skeleton_text):
    names = parse_names(names_text or '')
    return session.labels.set_keypoints(object_name or '', names,
                                        parse_skeleton(skeleton_text or '', names))


@_labelling
def load_coco(session, path):
    if path:
        return session.labels.load_coco(path)


@_labelling
def add_images(session, paths):
    if paths:
        return session.labels.add_images(paths, session.folder('images'))


@_labelling
def click(session, evt: gr.SelectData):
    session.labels.click(*evt.index)


def _teach_action(method, *fixed):
    """The Teach handler calling ``session.labels.<method>(*fixed, *inputs)``."""
    return _labelling(
        lambda session, *args: getattr(session.labels, method)(*fixed, *args))


def names_fields(session):
    labels = session.labels
    return (labels.object_name, '\n'.join(labels.names),
            ', '.join(f'{labels.names[a]}-{labels.names[b]}' for a, b in labels.skeleton))


@_user_errors
def export_labels(session):
    path = osp.join(session.folder('outputs'), 'labels_coco.json')
    with open(path, 'w') as f:
        json.dump(session.labels.to_coco(), f, indent=1)
    return [path]


@_user_errors
def train(device, recipe, recipe_text, session, epochs, start=None):
    if session.job is not None and session.job.state == 'running':
        raise ValueError('A training run is going on: wait for it or cancel it.')
    if epochs and epochs < 0:
        raise ValueError(f'Epochs {epochs}: a positive number, or 0 for the recipe\'s '
                         'default.')
    run = time.strftime('train-%H%M%S')
    random_weights = start == TEACH_STARTS[1]
    session.job = TrainJob.from_labels(
        session.labels, osp.join(session.folder(), run),
        epochs=int(epochs) if epochs else None, device=device, recipe=recipe,
        random_weights=random_weights)
    start_text = ', from random frozen weights of its architecture' if random_weights else ''
    return (_progress_html(0, session.job.total, 'starting'),
            f'Training (recipe: {recipe_text}{start_text}): '
            + '; '.join(session.job.report),
            gr.Timer(active=True), session)


def cancel(session):
    if session.job is not None:
        session.job.cancel()
    return 'Cancelling ...'


def poll(device, session):
    """Progress of the session's training; when it ends, the taught model."""
    job = session.job
    skip = gr.update()
    if job is None:
        return skip, skip, skip, skip, skip, skip, gr.Timer(active=False)
    points = job.losses()
    curve = pd.DataFrame({'iteration': np.array([p[0] for p in points], np.int64),
                          'loss': np.array([p[1] for p in points], np.float64)})
    done = points[-1][0] if points else 0
    state = job.state
    if state == 'running':
        return (_progress_html(done, job.total, 'training'), curve, skip, skip, skip,
                skip, skip)
    if state != 'done':
        session.job = None
        message = ('Training cancelled; the previous model is kept.' if state ==
                   'cancelled' else 'Training failed; the previous model is kept. '
                   f'End of {job.log_file}:\n\n```\n{job.error()}\n```')
        return (_progress_html(done, job.total, state), curve, message, skip, skip,
                skip, gr.Timer(active=False))
    try:
        taught = Predictor(job.config, job.checkpoint(), device=device)
        previews = [(taught.predict(i.path, np.array([i.bbox]), 'my boxes').drawing,
                     osp.basename(i.path)) for i in session.labels.labelled()]
    except Exception as err:  # a model that does not load keeps the previous one
        session.job = None
        return (_progress_html(done, job.total, 'failed'), curve,
                f'The trained model does not load ({type(err).__name__}: {err}); the '
                'previous model is kept.', skip, skip, skip, gr.Timer(active=False))
    session.taught, session.job = taught, None
    name = f'taught: {job.name}'
    return (_progress_html(job.total, job.total, 'done'), curve,
            f'Trained: {job.checkpoint()}. Look now uses it ("{name}").', previews,
            job.model_files(), gr.update(choices=[DEFAULT_MODEL, name], value=name),
            gr.Timer(active=False))


# -- the page -----------------------------------------------------------------
@dataclasses.dataclass
class _LookTab:
    """The components of Look that its events use."""
    image: gr.Image
    model: gr.Radio
    source: gr.Radio
    boxes: gr.Textbox
    note: gr.Markdown
    flip: gr.Checkbox
    layers: gr.Checkbox
    thr: gr.Slider
    run: gr.Button
    outputs: List[gr.components.Component]  # drawing, maps, table, files


@dataclasses.dataclass
class _ByNameTab:
    """The components of By name that its event uses."""
    image: gr.Image
    object: gr.Textbox
    names: gr.Textbox
    boxes: gr.Textbox
    layers: gr.Checkbox
    thr: gr.Slider
    run: gr.Button
    outputs: List[gr.components.Component]  # drawing, maps, table, files


@dataclasses.dataclass
class _TeachTab:
    """The components of Teach that its events use."""
    object: gr.Textbox
    names: gr.Textbox
    skeleton: gr.Textbox
    set: gr.Button
    coco: gr.File
    images: gr.File
    message: gr.Markdown
    status: gr.Markdown
    keypoint: gr.Radio
    prev: gr.Button
    next: gr.Button
    hidden: gr.Button
    clear: gr.Button
    box: gr.Button
    whole: gr.Button
    canvas: gr.Image
    epochs: gr.Number
    start: gr.Radio
    train: gr.Button
    cancel: gr.Button
    export: gr.Button
    progress: gr.HTML
    train_message: gr.Markdown
    loss: gr.LinePlot
    preds: gr.Gallery
    files: gr.File
    timer: gr.Timer


def _examples(rows: List[List[str]], image: gr.Image, outputs: list, tab: str) -> None:
    """gr.Examples of the images of ``rows`` (:func:`example_rows`) into ``image``;
    a click also fills ``outputs``, the tab's boxes text (and its box source) with the
    example's labelled boxes."""
    boxes_of = {osp.basename(path): boxes for path, boxes in rows}
    if len(boxes_of) != len(rows):
        raise ValueError('example images need distinct file names (their boxes are '
                         f'found by name): {[path for path, _ in rows]}')

    def fill(path):  # gradio passes its copy of the example: same file name
        boxes = boxes_of.get(osp.basename(path or ''), '')
        return (boxes, 'my boxes' if boxes else 'whole image') if len(outputs) == 2 else boxes

    gr.Examples([path for path, _ in rows], inputs=image, outputs=outputs, fn=fill,
                run_on_click=True, cache_examples=False,
                label='Examples (with their labelled boxes)', elem_id=f'{tab}_examples')


def _look_tab(predictor: Predictor, examples: List[List[str]]) -> _LookTab:
    """The Look tab: keypoints of the served (or taught) model."""
    score_thr = round(DEFAULT_SCORE_THR if predictor.score_thr is None
                      else predictor.score_thr, 2)
    score_thr_from = ("MMPose's default" if predictor.score_thr is None else
                      "the model's own, from its validation images")
    with gr.Tab('Look', id='look'):
        with gr.Row():
            with gr.Column():
                look_image = gr.Image(
                    type='filepath', sources=['upload', 'clipboard'], elem_id='look_image',
                    label='Image: upload, paste or pick an example; click two '
                    'corners to add a box')
                look_model = gr.Radio([DEFAULT_MODEL], value=DEFAULT_MODEL,
                                      label='Model', elem_id='look_model')
                look_source = gr.Radio(list(predictor.sources), value='whole image',
                                       label='Boxes from', elem_id='look_source')
                look_boxes = gr.Textbox(label='My boxes: x1, y1, x2, y2 per line '
                                        '(image pixels)', lines=2, elem_id='look_boxes')
                if examples:  # with their labelled boxes, as My boxes
                    _examples(examples, look_image, [look_boxes, look_source], 'look')
                look_note = gr.Markdown(elem_id='look_note')
                with gr.Row():
                    look_flip = gr.Checkbox(predictor.default_flip, label='Flip test',
                                            elem_id='look_flip')
                    look_layers = gr.Checkbox(False, label='Maps of each CKHE layer',
                                              elem_id='look_layers')
                look_thr = gr.Slider(0, 1, score_thr, step=0.01, elem_id='look_thr',
                                     label=f'Score threshold (drawn keypoints): '
                                     f'{score_thr_from}')
                look_run = gr.Button('Find keypoints', variant='primary',
                                     elem_id='look_run')
            with gr.Column():
                look_drawing = gr.Image(label='Keypoints', interactive=False,
                                        elem_id='look_drawing')
                look_maps = gr.Gallery(label='Correlation maps over the crop (of the '
                                       f'first {MAP_BOXES} boxes)',
                                       columns=4, height='auto', elem_id='look_maps')
                look_table = gr.Dataframe(headers=TABLE_HEADERS, interactive=False,
                                          elem_id='look_table', max_height=300)
                look_files = gr.File(label='Downloads: drawing, COCO results json',
                                     file_count='multiple', interactive=False,
                                     elem_id='look_files')
    return _LookTab(look_image, look_model, look_source, look_boxes, look_note, look_flip,
                    look_layers, look_thr, look_run,
                    [look_drawing, look_maps, look_table, look_files])


def _by_name_tab(predictor: Predictor, examples: List[List[str]]) -> _ByNameTab:
    """The By name tab: keypoints of typed names, through the text encoder."""
    text_note = ('' if predictor.text_folder else
                 f'\n\n**{predictor.config} has no text encoder**: By name needs a model '
                 'whose weights hold `text_encoder/` and `tokenizer/` (the demo model, '
                 'SD-1.5).')
    with gr.Tab('By name', id='by_name'):
        gr.Markdown('Type keypoint names: their conditions come from the model\'s '
                    'text encoder ("the {object}\'s {name}") and go through the U-Net '
                    'as loaded, without LoRA: no training at all.' + text_note)
        with gr.Row():
            with gr.Column():
                name_image = gr.Image(type='filepath', sources=['upload', 'clipboard'],
                                      label='Image', elem_id='name_image')
                name_object = gr.Textbox('object', label='Object', elem_id='name_object')
                name_names = gr.Textbox(label='Keypoint names (one per line or '
                                        'comma-separated)', lines=3,
                                        elem_id='name_names')
                name_boxes = gr.Textbox(label='Boxes: x1, y1, x2, y2 per line (empty: '
                                        'the whole image)', elem_id='name_boxes')
                if examples:
                    _examples(examples, name_image, [name_boxes], 'name')
                name_layers = gr.Checkbox(False, label='Maps of each CKHE layer')
                name_thr = gr.Slider(0, 1, 0.0, step=0.05, label='Score threshold')
                name_run = gr.Button('Find by name', variant='primary',
                                     elem_id='name_run',
                                     interactive=predictor.text_folder is not None)
            with gr.Column():
                name_drawing = gr.Image(label='Keypoints', interactive=False,
                                        elem_id='name_drawing')
                name_maps = gr.Gallery(label='Correlation maps over the crop',
                                       columns=4, height='auto', elem_id='name_maps')
                name_table = gr.Dataframe(headers=TABLE_HEADERS, interactive=False,
                                          elem_id='name_table', max_height=300)
                name_files = gr.File(label='Downloads', file_count='multiple',
                                     interactive=False, elem_id='name_files')
    return _ByNameTab(name_image, name_object, name_names, name_boxes, name_layers,
                      name_thr, name_run, [name_drawing, name_maps, name_table, name_files])


def _teach_tab(has_prior: bool) -> _TeachTab:
    """The Teach tab: label keypoints of new objects, train (from the served model's
    prior, or random weights of its architecture when ``has_prior``), download the
    model."""
    with gr.Tab('Teach', id='teach'):
        with gr.Row():
            with gr.Column(scale=1):
                teach_object = gr.Textbox(label='Object', placeholder='fish',
                                          elem_id='teach_object')
                teach_names = gr.Textbox(label='Keypoint names (one per line or '
                                         'comma-separated)', lines=4,
                                         elem_id='teach_names')
                teach_skeleton = gr.Textbox(label='Skeleton links, optional: '
                                            'name-name, comma-separated',
                                            elem_id='teach_skeleton')
                teach_set = gr.Button('Set keypoints', elem_id='teach_set')
                teach_coco = gr.File(label='... or load a COCO keypoints json',
                                     file_types=['.json'], elem_id='teach_coco')
                teach_images = gr.File(label='Images of the object', file_count='multiple',
                                       file_types=IMAGE_TYPES, elem_id='teach_images')
                teach_message = gr.Markdown(elem_id='teach_message')
            with gr.Column(scale=2):
                teach_status = gr.Markdown(LabelSet().status(), elem_id='teach_status')
                teach_keypoint = gr.Radio([], label='Keypoint to click',
                                          elem_id='teach_keypoint')
                with gr.Row():
                    teach_prev = gr.Button('Previous image', elem_id='teach_prev')
                    teach_next = gr.Button('Next image', elem_id='teach_next')
                    teach_hidden = gr.Button('Not visible', elem_id='teach_hidden')
                    teach_clear = gr.Button('Clear keypoint', elem_id='teach_clear')
                    teach_box = gr.Button('Draw box', elem_id='teach_box')
                    teach_whole = gr.Button('Whole image', elem_id='teach_whole')
                teach_canvas = gr.Image(label='Click the keypoint on the image',
                                        interactive=False, elem_id='teach_canvas',
                                        height=720)
        with gr.Row():
            teach_epochs = gr.Number(0, precision=0, elem_id='teach_epochs',
                                     label='Epochs (0: the recipe\'s default)')
            teach_start = gr.Radio(TEACH_STARTS, value=TEACH_STARTS[0], label='Start from',
                                   elem_id='teach_start', interactive=has_prior,
                                   visible=has_prior)
            teach_train = gr.Button('Train', variant='primary', elem_id='teach_train')
            teach_cancel = gr.Button('Cancel', variant='stop', elem_id='teach_cancel')
            teach_export = gr.Button('Export labels (COCO json)',
                                     elem_id='teach_export')
        teach_progress = gr.HTML(_progress_html(0, 0, 'not started'),
                                 elem_id='teach_progress')
        teach_train_message = gr.Markdown(elem_id='teach_train_message')
        with gr.Row():
            teach_loss = gr.LinePlot(x='iteration', y='loss', label='Loss',
                                     elem_id='teach_loss', height=250)
            teach_preds = gr.Gallery(label='The taught model on its images', columns=3,
                                     elem_id='teach_preds')
        teach_files = gr.File(label='Downloads: labels json, config, checkpoint',
                              file_count='multiple', interactive=False,
                              elem_id='teach_files')
        timer = gr.Timer(1.0, active=False)
    return _TeachTab(teach_object, teach_names, teach_skeleton, teach_set, teach_coco,
                     teach_images, teach_message, teach_status, teach_keypoint, teach_prev,
                     teach_next, teach_hidden, teach_clear, teach_box, teach_whole,
                     teach_canvas, teach_epochs, teach_start, teach_train, teach_cancel,
                     teach_export,
                     teach_progress, teach_train_message, teach_loss, teach_preds,
                     teach_files, timer)


def _look_events(session: gr.State, tab: _LookTab, predictor: Predictor) -> None:
    """Look's events: a new image, box corners clicked on it, Find keypoints."""
    # a user's new image (not an example: it comes with its boxes): boxes drawn anew
    tab.image.input(new_image, [session, tab.source, tab.image],
                    [tab.boxes, tab.source, tab.note])
    tab.image.select(box_corner, [session, tab.boxes], [tab.boxes, tab.source, tab.note])
    tab.run.click(_named_partial(look, predictor),
                  [session, tab.image, tab.model, tab.source, tab.boxes, tab.flip, tab.thr,
                   tab.layers], tab.outputs)


def _by_name_events(session: gr.State, tab: _ByNameTab, predictor: Predictor) -> None:
    """By name's event: Find by name."""
    tab.run.click(_named_partial(by_name, predictor),
                  [session, tab.image, tab.object, tab.names, tab.boxes, tab.thr,
                   tab.layers], tab.outputs)


def _teach_events(session: gr.State, tab: _TeachTab, look_model: gr.Radio,
                  predictor: Predictor, served_recipe: tuple) -> None:
    """Teach's events: labelling, training (its progress polled by the timer; the
    taught model is added to ``look_model``) and downloads."""
    view = [tab.message, tab.status, tab.canvas, tab.keypoint]
    tab.set.click(set_keypoints, [session, tab.object, tab.names, tab.skeleton], view)
    tab.coco.upload(load_coco, [session, tab.coco], view).then(
        names_fields, session, [tab.object, tab.names, tab.skeleton])
    tab.images.upload(add_images, [session, tab.images], view)
    tab.canvas.select(click, session, view)
    tab.keypoint.input(_teach_action('select_keypoint'), [session, tab.keypoint], view)
    for button, action in (
            (tab.prev, _teach_action('go', -1)), (tab.next, _teach_action('go', 1)),
            (tab.hidden, _teach_action('not_visible')),
            (tab.clear, _teach_action('clear_keypoint')),
            (tab.box, _teach_action('start_box')),
            (tab.whole, _teach_action('whole_image'))):
        button.click(action, session, view)
    tab.export.click(export_labels, session, tab.files)
    recipe, recipe_text = served_recipe  # teach_recipe(predictor.config)
    tab.train.click(_named_partial(train, predictor.device, recipe, recipe_text),
                    [session, tab.epochs, tab.start],
                    # session as an output: Gradio then ends it (Session.close cancels
                    # the run) an hour after its tab closed
                    [tab.progress, tab.train_message, tab.timer, session])
    tab.cancel.click(cancel, session, tab.train_message)
    tab.timer.tick(_named_partial(poll, predictor.device), session,
                   [tab.progress, tab.loss, tab.train_message, tab.preds, tab.files,
                    look_model, tab.timer])


def build_app(predictor: Predictor, work_root: str,
              examples: Sequence[Sequence[str]] = ()) -> gr.Blocks:
    """The Blocks of the app serving ``predictor``; sessions keep their files under
    ``work_root``."""
    examples = list(examples)
    with gr.Blocks(title='GenLoc', analytics_enabled=False) as app:
        # A Session, not a factory: gr.State sets a callable's value in a page-load
        # event, which on a busy server can run after the user's first events and
        # replace the session they labelled in (gradio 6.31). Deep-copied per browser
        # session instead (Session.__deepcopy__), at the session's first event.
        session = gr.State(Session(work_root), delete_callback=Session.close)
        gr.Markdown(f'# GenLoc\nKeypoints from Stable Diffusion priors. Model: '
                    f'`{predictor.config}` ({len(predictor.names)} keypoints, '
                    f'{predictor.device}).')
        look = _look_tab(predictor, examples)
        name = _by_name_tab(predictor, examples)
        recipe = teach_recipe(predictor.config)
        teach = _teach_tab(isinstance(recipe[0], dict) and recipe[0]['weights'] is not None)
        # events after all tabs, as a gr.Examples adds its own event where it is made
        _look_events(session, look, predictor)
        _by_name_events(session, name, predictor)
        _teach_events(session, teach, look.model, predictor, recipe)
    return app


def _progress_html(done: int, total: int, state: str) -> str:
    """A progress bar with 'state: done/total iterations'."""
    return (f'<div id="teach_progress_state" data-state="{state}">'
            f'<progress value="{done}" max="{max(total, 1)}" style="width:100%"></progress>'
            f'<br>{state}: {done}/{total} iterations</div>')


def example_rows(folder: str, first: Optional[str] = None) -> List[List[str]]:
    """Sample images to pick from (``demo/data/*/*.jpg``: COCO people, AP-10K animals,
    creatures of the miniature SD's world), those of the subfolder ``first`` (the
    served model's dataset name) first: rows of (path, boxes), the boxes labelled in
    the COCO json beside the image as the My boxes text ("x1, y1, x2, y2" lines; ''
    when none is labelled)."""
    boxes = {}
    for ann_file in glob.glob(osp.join(folder, '*', '*.json')):
        with open(ann_file) as f:
            coco = json.load(f)
        if not isinstance(coco, dict) or 'images' not in coco:
            continue  # e.g. detection results
        names = {img['id']: osp.join(osp.dirname(ann_file), img['file_name'])
                 for img in coco['images']}
        for ann in coco.get('annotations', []):
            if ann['image_id'] in names and not ann.get('iscrowd'):
                x, y, w, h = ann['bbox']
                boxes.setdefault(names[ann['image_id']], []).append(
                    f'{x:g}, {y:g}, {x + w:g}, {y + h:g}')
    paths = sorted(glob.glob(osp.join(folder, '*', '*.jpg')),
                   key=lambda path: (osp.basename(osp.dirname(path)) != first, path))
    return [[path, '\n'.join(boxes.get(path, []))] for path in paths]
