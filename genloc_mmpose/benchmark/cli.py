"""The command line of ``tools/benchmark.py``: one config's benchmarks, or the GPU
suite (``--suite DIR``)."""
import argparse
import json
import sys
import warnings

import torch
from mmengine.config import Config, DictAction
from mmengine.registry import DefaultScope, init_default_scope

from ..fileio import atomic_write
from . import BenchmarkError
from .config import configure
from .data import SAMPLE_DATA, bench_loader, bench_pipelines
from .evaluation import bench_test
from .inferencer import bench_inferencer
from .report import env_info, format_pipelines, format_table
from .steps import bench_model
from .suite import run_suite

MODES = ('train', 'infer', 'test')


def _add_step_args(parser):
    """The config and what is timed of the model: sizes, dtype, modes."""
    parser.add_argument('config', nargs='?', help='config file (not with --suite)')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction, default={},
                        help='override config keys, as in tools/train.py')
    parser.add_argument('--batch-size', type=int, default=None,
                        help="images per step (default: the config's "
                        'train_dataloader.batch_size)')
    parser.add_argument('--input-size', type=int, nargs=2, metavar=('W', 'H'),
                        default=None,
                        help="input crop W H (default: the codec's input_size); the "
                        'heatmap size follows with the config\'s input/heatmap ratio')
    parser.add_argument('--dtype', choices=['fp32', 'bf16'], default=None,
                        help='default: bf16 if the config uses AmpOptimWrapper '
                        'with bfloat16, else fp32')
    parser.add_argument('--with-cp', action=argparse.BooleanOptionalAction,
                        default=None,
                        help="U-Net gradient checkpointing (default: the config's)")
    parser.add_argument('--compile', action=argparse.BooleanOptionalAction,
                        default=False, help='torch.compile the U-Net')
    parser.add_argument('--flip', action=argparse.BooleanOptionalAction, default=None,
                        help="flip test in infer (default: the config's test_cfg)")
    parser.add_argument('--iters', type=int, default=10, help='timed iterations')
    parser.add_argument('--warmup', type=int, default=3,
                        help='untimed warm-up iterations (compile happens here)')
    parser.add_argument('--modes', nargs='*', choices=[*MODES, 'inferencer'],
                        default=list(MODES),
                        help='model benchmarks to run, in order (none: only --loader); '
                        'inferencer: MMPoseInferencer with an mmdet person detector '
                        '(random weights) on the COCO sample images, not by default')


def _add_suite_args(parser):
    """--suite and its options."""
    parser.add_argument('--suite', metavar='OUT_DIR', default=None,
                        help='run every GPU figure of docs/benchmarks.md (SUITE: one '
                        'JSON per step) and write OUT_DIR/summary.md; no config')
    parser.add_argument('--dry-run', action='store_true',
                        help='--suite: the same steps on the CPU with the tiny config, '
                        'tiny sizes, no compile (a check that the suite runs)')
    parser.add_argument('--suite-steps', nargs='+', default=None,
                        help='--suite: only these steps (names as in SUITE)')


def _add_run_args(parser):
    """Device, weights, the loader benchmarks, threads, seed, output."""
    parser.add_argument('--device', default=None,
                        help='cuda, cuda:N or cpu (default: cuda if available)')
    parser.add_argument('--random-weights', action='store_true',
                        help='build the Stable Diffusion architecture with random '
                        'weights (model.backbone.pretrained=None): same cost, no '
                        'weights folder needed')
    parser.add_argument('--loader', action='store_true',
                        help="also time the config's train_dataloader pipeline")
    parser.add_argument('--workers', type=int, default=None,
                        help="loader workers (default: the config's num_workers)")
    parser.add_argument('--loader-iters', type=int, default=None,
                        help='timed loader batches (default: max(iters, 4*workers))')
    parser.add_argument('--pipeline-rounds', type=int, default=5,
                        help='--loader per core: interleaved old/new rounds of at '
                        'least 64 crops each (default 5)')
    parser.add_argument('--loader-data', choices=['auto', *SAMPLE_DATA], default='auto',
                        help='sample data for --loader (auto: ap10k for '
                        'AP10KDataset configs, else coco)')
    parser.add_argument('--threads', type=int, default=None,
                        help='torch CPU threads (default: torch\'s; on a busy '
                        'machine 1 avoids OpenMP oversubscription)')
    parser.add_argument('--test-images', type=int, default=None,
                        help='images for --modes test (default: (warmup + iters) x '
                        'batch size)')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--json', default=None, help='write all settings and results')


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='GenLoc benchmark: train/infer images/s and peak memory, and '
        'data-loading images/s.')
    _add_step_args(parser)
    _add_suite_args(parser)
    _add_run_args(parser)
    return parser.parse_args(argv)


def _check_args(args):
    """BenchmarkError for a command line with nothing or nothing sensible to do."""
    if args.config is None:
        raise BenchmarkError('give a config (or --suite OUT_DIR)')
    if args.iters < 1 or args.warmup < 0:
        raise BenchmarkError('--iters must be >= 1 and --warmup >= 0')
    if not args.modes and not args.loader:
        raise BenchmarkError('nothing to do: give --modes train/infer and/or --loader')
    if args.threads is not None and args.threads < 1:
        raise BenchmarkError('--threads must be >= 1')


def _device(name):
    """``--device`` (default: cuda if available) as a torch.device."""
    device = torch.device(name or ('cuda' if torch.cuda.is_available() else 'cpu'))
    if device.type == 'cuda' and not torch.cuda.is_available():
        raise BenchmarkError('--device cuda but CUDA is not available')
    return device


def _bench(report, cfg, args, device):
    """Fill ``report['results']`` (and ``model``, ``loader_per_core``) in the order
    train / infer, test, inferencer, loader; returns 1 if a model mode failed."""
    settings, results = report['settings'], report['results']
    status = 0
    if set(args.modes) & {'train', 'infer'}:
        report['model'], results = bench_model(cfg, args, settings, device)
        report['results'] = results
        status = int(any('error' in r for r in results.values()))
    if 'test' in args.modes:
        results['test'] = bench_test(cfg, args, settings)
        infer = results.get('infer', {}).get('images_per_s')
        if infer:  # the yardstick: the test loop vs the model alone
            results['test']['share_of_infer'] = results['test']['images_per_s'] / infer
    if 'inferencer' in args.modes:
        # the inferencer leaves mmdet's scope as the default: restored for --loader
        with DefaultScope.overwrite_default_scope('mmpose'):
            results['inferencer'] = bench_inferencer(cfg, args, settings)
    if args.loader:
        results['loader'] = bench_loader(cfg, args, settings)
        report['loader_per_core'] = bench_pipelines(cfg, args)
    return status


def _write(report, json_path):
    """Print the tables; write the report to ``json_path`` (if any)."""
    print(format_table(report), flush=True)
    if report.get('loader_per_core'):
        print(format_pipelines(report['loader_per_core']), flush=True)
    if json_path:
        atomic_write(json_path, json.dumps(report, indent=2, default=str), 'w')
        print(f'wrote {json_path}')


def run(argv=None):
    """Run the benchmarks (or the suite) of a command line; returns the exit status
    (1: a benchmark failed). Raises BenchmarkError for a user error."""
    args = parse_args(argv)
    if args.suite:
        return run_suite(args, run)
    _check_args(args)
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    init_default_scope(cfg.get('default_scope', 'mmpose'))
    device = _device(args.device)
    settings = configure(cfg, args, device)
    report = dict(config=args.config, settings=settings, env=env_info(device), model=None,
                  results={})
    status = _bench(report, cfg, args, device)
    _write(report, args.json)
    return status


def main(argv=None):
    """``tools/benchmark.py``: :func:`run`, a user error as ``error: ...`` with exit
    status 2."""
    # mmpose finds the dataset metainfo files in its .mim folder: expected, not news.
    warnings.filterwarnings('ignore', message='The metainfo config file')
    try:
        sys.exit(run(argv))
    except BenchmarkError as exc:
        print(f'error: {exc}', file=sys.stderr)
        sys.exit(2)
