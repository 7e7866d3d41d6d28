"""``genloc-app [CONFIG CHECKPOINT] [--device cpu|cuda] [--host 127.0.0.1]
[--port 7860]``: the GenLoc app (docs/app.md)."""
import argparse
import os.path as osp
import sys
from typing import Optional, Sequence, Tuple

from ..resources import DEMO_CHECKPOINT, DEMO_CONFIG, DEMO_EXAMPLES


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog='genloc-app', description='GenLoc in the browser: Look, By name, Teach '
        '(docs/app.md). Without CONFIG CHECKPOINT it serves the model `genloc-demo` trains.')
    parser.add_argument('config', nargs='?', help=f'MMPose config (default: {DEMO_CONFIG})')
    parser.add_argument('checkpoint', nargs='?', help='its checkpoint (default: '
                        f'{DEMO_CHECKPOINT})')
    parser.add_argument('--device', choices=['cpu', 'cuda'],
                        help='default: cuda when available')
    parser.add_argument('--host', default='127.0.0.1',
                        help='address to bind (0.0.0.0 exposes the app to the network)')
    parser.add_argument('--port', type=int, default=7860)
    parser.add_argument('--share', action='store_true',
                        help="a public gradio.live link (off by default)")
    parser.add_argument('--det-config', help='mmdet config of a detector for Look\'s boxes')
    parser.add_argument('--det-checkpoint', help='its checkpoint')
    parser.add_argument('--det-cat-ids', type=int, nargs='+', default=[0],
                        help='detector classes to keep (default: 0, COCO person)')
    parser.add_argument('--work-dir', default=osp.join('work_dirs', 'app'),
                        help='sessions keep uploads, outputs and training runs here')
    parser.add_argument('--max-file-size', default='20mb',
                        help='largest upload (gradio size, e.g. 20mb)')
    return parser.parse_args(argv)


def resolve_model(config: Optional[str], checkpoint: Optional[str]) -> Tuple[str, str]:
    """CONFIG and CHECKPOINT, or the demo model's; FileNotFoundError / ValueError
    saying what to do."""
    if config is None:
        missing = [p for p in (DEMO_CONFIG, DEMO_CHECKPOINT) if not osp.isfile(p)]
        if missing:
            raise FileNotFoundError(
                f'The demo model is not there ({", ".join(missing)} missing): run '
                '`genloc-demo` (`make demo` in a checkout) first, or pass CONFIG CHECKPOINT.')
        return DEMO_CONFIG, DEMO_CHECKPOINT
    if checkpoint is None:
        raise ValueError(f'CONFIG {config} given without CHECKPOINT: pass both.')
    for what, path in (('CONFIG', config), ('CHECKPOINT', checkpoint)):
        if not osp.isfile(path):
            raise FileNotFoundError(f'{what} {path} is not a file.')
    return config, checkpoint


def main(argv: Optional[Sequence[str]] = None) -> None:
    args = parse_args(argv)
    try:
        config, checkpoint = resolve_model(args.config, args.checkpoint)
        if bool(args.det_config) != bool(args.det_checkpoint):
            raise ValueError('--det-config and --det-checkpoint go together.')
    except (ValueError, FileNotFoundError) as err:
        sys.exit(f'genloc-app: error: {err}')
    from .predict import Predictor
    from .ui import build_app, example_rows
    predictor = Predictor(config, checkpoint, device=args.device,
                          det_config=args.det_config, det_checkpoint=args.det_checkpoint,
                          det_cat_ids=args.det_cat_ids)
    examples_dir = DEMO_EXAMPLES
    app = build_app(predictor, args.work_dir, example_rows(
        examples_dir, first=predictor.model.dataset_meta.get('dataset_name')))
    app.queue().launch(server_name=args.host, server_port=args.port, share=args.share,
                       max_file_size=args.max_file_size,
                       allowed_paths=[args.work_dir, examples_dir])
