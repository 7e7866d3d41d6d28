"""The GPU suite: every GPU figure of docs/benchmarks.md from one command
(``tools/benchmark.py --suite DIR``), one benchmark per step, and its summary table."""
import gc
import json
import os
import os.path as osp
import sys
import time

import torch

from ..fileio import atomic_write
from ..resources import shipped
from . import BenchmarkError
from .report import fmt

AP10K_CONFIG = 'configs/genloc/ap10k/genloc_sd15-lora16_8xb25-100e_ap10k-256x256.py'
COCO_CONFIG = 'configs/genloc/coco/genloc_sd15-lora16_8xb25-14e_coco-256x192.py'
WHOLEBODY_CONFIG = ('configs/genloc/coco_wholebody/'
                    'genloc_sd15-lora16_8xb25-14e_coco-wholebody-256x192.py')
TINY_CONFIG = 'configs/genloc/tiny/genloc_tiny_1xb4-300it_coco-128x96.py'
SUITE_COLUMNS = ('step', 'mode', 'input', 'batch', 'K', 'model', 'dtype',
                 'flip / with_cp', 'images/s', 'ms/iter', 'peak GiB', 'first iter s',
                 'notes')
NUMERIC_COLUMNS = ('batch', 'K', 'images/s', 'ms/iter', 'peak GiB', 'first iter s')


def suite_steps(dry_run=False):
    """Every GPU figure of docs/benchmarks.md as (name, config, arguments): SD-1.5
    architecture with random weights, bf16, batch 32 at 256x256 (K = 17), eager and
    compiled, flip test batched, the test loop, 512x512 with with_cp, K = 133, the
    loader with 8 workers and per core, MMPoseInferencer with a detector. Configs
    are relative to the shipped files (genloc_mmpose/resources.py).
    ``dry_run``: the same steps on the CPU with the tiny config and tiny sizes, without
    torch.compile (minutes on the CPU)."""
    batch = ['--batch-size', '1' if dry_run else '32']
    size = ['--input-size', *(('48', '64') if dry_run else ('256', '256'))]
    big = ['--input-size', *(('64', '64') if dry_run else ('512', '512'))]
    compile_ = ['--no-compile'] if dry_run else ['--compile']

    def config(name):
        return TINY_CONFIG if dry_run else name

    steps = [
        ('eager_256', config(AP10K_CONFIG),
         ['--modes', 'train', 'infer', '--no-flip', '--no-with-cp', *batch, *size]),
        ('eager_256_flip', config(AP10K_CONFIG),
         ['--modes', 'infer', '--flip', '--no-with-cp', *batch, *size]),
        ('compiled_256', config(AP10K_CONFIG),
         ['--modes', 'train', 'infer', '--no-flip', '--no-with-cp', *compile_, *batch,
          *size]),
        ('compiled_256_flip_test', config(AP10K_CONFIG),  # dry run: the tiny size
         ['--modes', 'infer', 'test', '--flip', '--no-with-cp', *compile_, *batch,
          *([] if dry_run else size), '--test-images', '2' if dry_run else '1024']),
        ('with_cp_512', config(AP10K_CONFIG),
         ['--modes', 'train', '--with-cp', '--batch-size', '1' if dry_run else '16', *big]),
        ('k133_256x192', config(WHOLEBODY_CONFIG),
         ['--modes', 'train', 'infer', '--no-flip', '--no-with-cp', *batch,
          '--input-size', *(('48', '64') if dry_run else ('192', '256'))]
         + (['--cfg-options', 'model.backbone.num_keypoints=133'] if dry_run else [])),
        ('loader_8_workers', config(AP10K_CONFIG),
         ['--modes', '--loader', '--workers', '0' if dry_run else '8', '--loader-data',
          'ap10k', '--pipeline-rounds', '1' if dry_run else '3']
         + (['--loader-iters', '1'] if dry_run else [])),
        ('inferencer_mmdet', config(COCO_CONFIG), ['--modes', 'inferencer', '--flip']),
    ]
    common = (['--device', 'cpu', '--threads', '1', '--iters', '1', '--warmup', '0']
              if dry_run else ['--device', 'cuda', '--iters', '10', '--warmup', '3'])
    common += ['--random-weights', '--dtype', 'bf16']
    return [(name, cfg, [*args, *common]) for name, cfg, args in steps]


def _select_steps(dry_run, names):
    """:func:`suite_steps`, only those ``names`` (all: None), in the suite's order."""
    steps = suite_steps(dry_run)
    if names:
        unknown = set(names) - {name for name, _, _ in steps}
        if unknown:
            raise BenchmarkError(f'unknown --suite-steps {sorted(unknown)}; the steps: '
                                 f'{[name for name, _, _ in steps]}')
        steps = [step for step in steps if step[0] in names]
    return steps


def _run_step(benchmark, name, config, step_args, json_path):
    """``benchmark(argv)`` of one step; returns (its error or None, its s)."""
    argv = [shipped(config), *step_args, '--json', json_path]
    print(f'\n=== suite step {name}: tools/benchmark.py {" ".join(argv)}', flush=True)
    start = time.perf_counter()
    try:
        code = benchmark(argv)
        error = None if code == 0 else f'exit status {code}'
    except Exception as exc:  # noqa: BLE001 (the next steps still run)
        error = f'{type(exc).__name__}: {exc}'
        print(f'suite step {name} failed: {error}', file=sys.stderr, flush=True)
    wall_s = time.perf_counter() - start
    gc.collect()
    if hasattr(torch, '_dynamo'):
        torch._dynamo.reset()  # each compiled step compiles (and is timed) anew
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
    return error, wall_s


def run_suite(args, benchmark):
    """Run :func:`suite_steps` one after the other in this process through
    ``benchmark`` (a command line -> exit status; torch.compile's caches reset
    between steps), one JSON per step in ``args.suite``, then ``summary.md`` (one
    table) and ``suite.json`` (status and time of each step). Returns the exit
    status: 1 if a step failed."""
    out_dir = args.suite
    os.makedirs(out_dir, exist_ok=True)
    steps = _select_steps(args.dry_run, args.suite_steps)
    if not args.dry_run and not torch.cuda.is_available():
        raise BenchmarkError('--suite needs a CUDA device (or --dry-run on the CPU)')
    t0 = time.perf_counter()
    record = dict(dry_run=bool(args.dry_run), started=time.strftime('%Y-%m-%d %H:%M:%S'),
                  steps=[])
    for name, config, step_args in steps:
        json_path = osp.join(out_dir, f'{name}.json')
        error, wall_s = _run_step(benchmark, name, config, step_args, json_path)
        record['steps'].append(dict(name=name, config=config, args=step_args,
                                    json=osp.basename(json_path), error=error,
                                    wall_s=wall_s))
    record['total_s'] = time.perf_counter() - t0
    atomic_write(osp.join(out_dir, 'suite.json'), json.dumps(record, indent=2), 'w')
    summary = format_suite(out_dir, record)
    atomic_write(osp.join(out_dir, 'summary.md'), summary, 'w')
    print('\n' + summary, flush=True)
    return int(any(step['error'] is not None for step in record['steps']))


def _gib(mb):
    return None if mb is None else mb / 1024


def _row(*cells):
    """A markdown row of :data:`SUITE_COLUMNS` ('–' for None and missing cells)."""
    cells = [('–' if c is None else str(c)) for c in cells]
    cells += ['–'] * (len(SUITE_COLUMNS) - len(cells))
    return '| ' + ' | '.join(cells) + ' |'


def _mode_rows(name, report):
    """The rows of one step's report: one per mode, then the per-core pipelines."""
    s = report['settings']
    setting = (f"{s['input_size'][0]}x{s['input_size'][1]}", s['batch_size'],
               (report.get('model') or {}).get('num_keypoints'),
               'compiled' if s['compile'] else 'eager', s['dtype'])
    rows = []
    for mode, r in report['results'].items():
        if 'error' in r:
            rows.append(_row(name, mode, *setting, *[None] * 5, r['error']))
            continue
        flip = f"flip {s['flip']}" if mode in ('infer', 'test', 'inferencer') else None
        if mode == 'train':
            flip = f"with_cp {s['with_cp']}"
        rows.append(_row(
            name, mode, *setting, flip, fmt(r.get('images_per_s')),
            fmt(r.get('iter_ms_mean', r.get('batch_ms_mean'))),
            fmt(_gib(r.get('peak_mem_mb')), '.1f'),
            fmt(r.get('first_iter_s', r.get('first_batch_s')), '.1f'), _note(mode, r)))
    for pipeline, r in (report.get('loader_per_core') or {}).items():
        rows.append(_row(
            name, f'{pipeline} pipeline, 1 core', *[None] * 6,
            f"{r['old']['crops_per_s']:.1f} → {r['new']['crops_per_s']:.1f}", None,
            None, None, f"{r['speedup']:.2f}x crops/s, old → new ({r['data']})"
            + (f"; with decode_cache_dir {r['cached']['crops_per_s']:.1f}/s, "
               f"{r['speedup_cached']:.2f}x" if 'cached' in r else '')))
    return rows


def _note(mode, r):
    """The notes cell of a mode's row."""
    if mode == 'test':
        return (f"share of infer {fmt(r.get('share_of_infer'), '.2f')}, "
                f"end to end {fmt(r.get('end_to_end_images_per_s'))}/s")
    if mode == 'infer':
        return f"decode {fmt(r.get('decode_ms'), '.1f')} ms/batch"
    if mode == 'loader':
        return f"{r['workers']} workers, {r['sample_data']} sample"
    if mode == 'inferencer':
        return (f"{fmt(r['persons_per_s'])} persons/s, detector on "
                f"{r['det_device']}, pose on {r['pose_device']}")
    return ''


def format_suite(out_dir, record):
    """One markdown table of every step's results (from their JSON files)."""
    env = None
    rows = []
    for step in record['steps']:
        path = osp.join(out_dir, step['json'])
        if step['error'] or not osp.exists(path):
            rows.append(_row(step['name'], *[None] * 11,
                             f"failed: {step['error'] or 'no JSON'}"))
            continue
        with open(path) as f:
            report = json.load(f)
        env = env or report['env']
        rows += _mode_rows(step['name'], report)
    env = env or {}
    title = '# GenLoc GPU benchmark suite'
    if record['dry_run']:
        title += ' (dry run: CPU, tiny config)'
    lines = [
        title, '',
        f"{record['started']}, {env.get('gpu') or env.get('device', '?')}, torch "
        f"{env.get('torch', '?')}, CUDA {env.get('cuda')}, Python {env.get('python', '?')}, "
        f"{env.get('cpu_count', '?')} CPUs, git {env.get('git_commit')}; whole suite "
        f"{record['total_s']:.0f} s. Random weights (the SD-1.5 architecture), "
        '`python tools/benchmark.py --suite DIR`; one JSON per step in this folder.', '',
        '| ' + ' | '.join(SUITE_COLUMNS) + ' |',
        '|' + '|'.join(' ---: ' if c in NUMERIC_COLUMNS else ' --- '
                       for c in SUITE_COLUMNS) + '|',
    ]
    return '\n'.join(lines + rows) + '\n'
