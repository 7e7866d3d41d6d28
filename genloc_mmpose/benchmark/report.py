"""The report: the environment of a run and its tables as printed."""
import os
import os.path as osp
import platform
import subprocess

import torch

from ..resources import PACKAGE


def env_info(device):
    """Python, platform, torch / CUDA, CPUs, the GPU and its MiB, the OpenMMLab and
    diffusers / peft versions, and the short git commit of the checkout that holds
    the package (None outside a git checkout)."""
    env = dict(python=platform.python_version(), platform=platform.platform(),
               torch=torch.__version__, cuda=torch.version.cuda,
               cpu_count=os.cpu_count(), torch_threads=torch.get_num_threads(),
               device=str(device), hostname=platform.node())
    if device.type == 'cuda':
        env['gpu'] = torch.cuda.get_device_name(device)
        env['gpu_mem_mb'] = torch.cuda.get_device_properties(device).total_memory / 2**20
    for name in ('mmpose', 'mmengine', 'mmcv', 'diffusers', 'peft'):
        try:
            env[name] = __import__(name).__version__
        except Exception:  # noqa: BLE001
            env[name] = None
    try:
        env['git_commit'] = subprocess.run(
            ['git', 'rev-parse', '--short', 'HEAD'], cwd=PACKAGE, capture_output=True,
            text=True, timeout=10).stdout.strip() or None
    except Exception:  # noqa: BLE001
        env['git_commit'] = None
    return env


def fmt(value, spec=None):
    """``value`` in ``spec`` ('-' for None; default: 1 decimal from 10 up, else 3
    significant digits)."""
    if value is None:
        return '-'
    return format(value, spec or ('.1f' if abs(value) >= 10 else '.3g'))


def format_table(report):
    """The settings and one row per mode: img/s, ms per iteration, first
    iteration s, peak CUDA MiB, RSS growth MiB."""
    s = report['settings']
    lines = [
        f"GenLoc benchmark: {osp.basename(report['config'])}",
        f"device {report['env'].get('gpu') or s['device']} | batch {s['batch_size']} | "
        f"input {s['input_size'][0]}x{s['input_size'][1]} (W x H) | heatmap "
        f"{s['heatmap_size'][0]}x{s['heatmap_size'][1]} | {s['dtype']} | with_cp "
        f"{s['with_cp']} | compile {s['compile']} | flip {s['flip']} | "
        f"{s['iters']} iters after {s['warmup']} warm-up",
    ]
    header = (f"{'mode':<8}{'img/s':>10}{'ms/iter':>10}{'median':>10}"
              f"{'first s':>9}{'peak MiB':>11}{'RSS +MiB':>10}")
    lines += [header, '-' * len(header)]
    for mode, r in report['results'].items():
        if 'error' in r:
            lines.append(f'{mode:<8}  ERROR: {r["error"]}')
            continue
        first = r.get('first_iter_s', r.get('first_batch_s'))
        lines.append(
            f"{mode:<8}{fmt(r.get('images_per_s')):>10}"
            f"{fmt(r.get('iter_ms_mean', r.get('batch_ms_mean'))):>10}"
            f"{fmt(r.get('iter_ms_median')):>10}{fmt(first, '.2f'):>9}"
            f"{fmt(r.get('peak_mem_mb'), '.0f'):>11}"
            f"{fmt(r.get('peak_rss_delta_mb'), '.0f'):>10}")
    if 'loader' in report['results'] and 'error' not in report['results']['loader']:
        r = report['results']['loader']
        lines.append(f"loader: {r['workers']} workers, {r['sample_data']} sample data "
                     f"({r['dataset_type']}), {r['images']} images")
    return '\n'.join(lines)


def format_pipelines(per_core):
    """The per-core table of :func:`.data.bench_pipelines`: crops/s old / new (/ new
    with the decode cache), the speedups, ms per crop of each transform."""
    lines = ['loader per CPU core (crops/s, one thread; old = MMPose transforms, new = '
             'as configured, new+cache = with decode_cache_dir after its first epoch; '
             'interleaved)']
    header = (f"{'pipeline':<10}{'data':<18}{'crops':>7}{'old':>9}{'variant':>11}"
              f"{'crops/s':>9}{'speedup':>9}{'(rounds: median, min)':>24}")
    lines += [header, '-' * len(header)]
    for name, r in per_core.items():
        lead = (f"{name:<10}{r['data']:<18}{r['crops']:>7}"
                f"{r['old']['crops_per_s']:>9.1f}")
        for key, label in (('new', 'new'), ('cached', 'new+cache')):
            if key in r:
                speedup = 'speedup' + ('' if key == 'new' else f'_{key}')
                lines.append(f"{lead}{label:>11}{r[key]['crops_per_s']:>9.1f}"
                             f"{r[speedup]:>8.2f}x{r[speedup + '_round_median']:>15.2f}x, "
                             f"{r[speedup + '_round_min']:.2f}x")
                lead = ' ' * len(lead)
        for key in [k for k in ('old', 'new', 'cached') if k in r]:
            parts = ', '.join(f'{k} {v:.2f}' for k, v in r[key]['transform_ms'].items())
            lines.append(f'    {key} ms/crop: {parts}')
    return '\n'.join(lines)
