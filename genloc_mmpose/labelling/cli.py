"""``genloc-label-studio``: the labelling config of a keypoint set, and GenLoc served as
Label Studio's ML backend (docs/labelling.md)."""
import argparse
import os.path as osp
import sys
from typing import Optional, Sequence


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog='genloc-label-studio', description='GenLoc in Label Studio (docs/labelling.md).')
    commands = parser.add_subparsers(dest='command', required=True)
    config = commands.add_parser(
        'config', help="write a project's labelling config (XML) for a keypoint set")
    source = config.add_mutually_exclusive_group(required=True)
    source.add_argument('--checkpoint', help="a GenLoc checkpoint (its dataset_meta)")
    source.add_argument('--metainfo', help="an MMPose dataset metainfo file "
                        "(e.g. configs/_base_/datasets/<name>.py)")
    config.add_argument('--object', help='the box label (default: the dataset name)')
    config.add_argument('--out', '-o', help='file to write (default: print)')
    serve = commands.add_parser('serve', help='serve GenLoc as an ML backend')
    serve.add_argument('config', nargs='?', help='MMPose config (default: the demo model)')
    serve.add_argument('checkpoint', nargs='?', help='its checkpoint')
    serve.add_argument('--host', default='127.0.0.1')
    serve.add_argument('--port', type=int, default=9090)
    serve.add_argument('--device', choices=['cpu', 'cuda'])
    serve.add_argument('--work-dir', default=osp.join('work_dirs', 'label_studio'))
    serve.add_argument('--label-studio-url', help='default: $LABEL_STUDIO_URL, else the '
                       'address Label Studio sends when it connects')
    serve.add_argument('--api-key', help="a Label Studio API token (default: "
                       "$LABEL_STUDIO_API_KEY, else the project owner's, sent on connect)")
    serve.add_argument('--train-epochs', type=int,
                       help="training length (default: the served model's recipe)")
    serve.add_argument('--score-thr', type=float, help="keypoints under it are not "
                       "pre-annotated (default: the checkpoint's own, else 0.3)")
    serve.add_argument('--det-config', help='mmdet config of a detector for the boxes of '
                       'tasks without any (default: the whole image)')
    serve.add_argument('--det-checkpoint', help='its checkpoint')
    serve.add_argument('--det-cat-ids', type=int, nargs='+', default=[0],
                       help='detector classes to keep (default: 0, COCO person)')
    serve.add_argument('--train-on-annotations', action='store_true', help='train on '
                       'each submitted / updated annotation too (default: only on Label '
                       'Studio\'s "Start Training")')
    return parser.parse_args(argv)


def labelling_config_of(checkpoint: Optional[str], metainfo: Optional[str],
                        object_name: Optional[str]) -> str:
    """The XML for a checkpoint's keypoint set or an MMPose metainfo file's."""
    from mmpose.datasets.datasets.utils import parse_pose_metainfo

    from .label_studio import config_from_meta
    path = checkpoint or metainfo
    if not osp.isfile(path):
        raise FileNotFoundError(f'{path} is not a file.')
    if checkpoint:
        import torch
        meta = (torch.load(checkpoint, map_location='cpu').get('meta') or {}).get(
            'dataset_meta')
        if not meta:
            raise ValueError(f'{checkpoint} holds no meta.dataset_meta (not an MMPose '
                             'checkpoint?): pass --metainfo with its dataset file.')
    else:
        meta = parse_pose_metainfo(dict(from_file=metainfo))
    return config_from_meta(meta, object_name)


def main(argv: Optional[Sequence[str]] = None) -> None:
    args = parse_args(argv)
    try:
        if args.command == 'config':
            xml = labelling_config_of(args.checkpoint, args.metainfo, args.object)
            if args.out:
                from ..fileio import atomic_write
                atomic_write(args.out, xml, 'w')
            else:
                sys.stdout.write(xml)
            return
        from ..app.cli import resolve_model
        config, checkpoint = resolve_model(args.config, args.checkpoint)
        if bool(args.det_config) != bool(args.det_checkpoint):
            raise ValueError('--det-config and --det-checkpoint go together.')
    except (ValueError, FileNotFoundError) as err:
        sys.exit(f'genloc-label-studio: error: {err}')
    import logging
    logging.basicConfig(level=logging.INFO, format='%(asctime)s %(name)s %(message)s')
    from .backend import GenLocBackend, serve
    backend = GenLocBackend(config, checkpoint, args.work_dir, device=args.device,
                            label_studio_url=args.label_studio_url, api_key=args.api_key,
                            train_epochs=args.train_epochs, score_thr=args.score_thr,
                            train_on_annotations=args.train_on_annotations,
                            det_config=args.det_config, det_checkpoint=args.det_checkpoint,
                            det_cat_ids=args.det_cat_ids)
    serve(backend, args.host, args.port)
