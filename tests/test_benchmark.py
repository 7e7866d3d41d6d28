"""tools/benchmark.py end to end on the tiny config, on the CPU (subprocesses)."""
import json
import math
import os
import os.path as osp
import subprocess
import sys

import pytest

from conftest import REPO, TINY_CONFIG

BENCHMARK = osp.join(REPO, 'tools', 'benchmark.py')


def run_benchmark(*args, timeout=240):
    env = dict(os.environ, PYTHONWARNINGS='ignore')
    return subprocess.run([sys.executable, BENCHMARK, TINY_CONFIG, '--device', 'cpu',
                           '--threads', '1', *args],
                          cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=timeout)


def _positive_finite(value):
    return isinstance(value, (int, float)) and math.isfinite(value) and value > 0


@pytest.mark.parametrize('dtype,flip,with_cp,input_size,loader', [
    ('fp32', True, False, None, True),
    ('bf16', False, True, (64, 64), False),
])
def test_benchmark_cpu(tmp_path, dtype, flip, with_cp, input_size, loader):
    out = tmp_path / 'bench.json'
    args = ['--batch-size', '2', '--iters', '2', '--warmup', '1', '--dtype', dtype,
            '--flip' if flip else '--no-flip',
            '--with-cp' if with_cp else '--no-with-cp',
            '--modes', 'train', 'infer', '--json', str(out)]
    if input_size:
        args += ['--input-size', *map(str, input_size)]
    if loader:
        args += ['--loader', '--workers', '0', '--loader-iters', '2']
    proc = run_benchmark(*args)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert 'img/s' in proc.stdout  # the table

    report = json.loads(out.read_text())
    assert {'config', 'settings', 'env', 'model', 'results'} <= set(report)
    s = report['settings']
    expected_in = list(input_size) if input_size else [96, 128]
    assert s['input_size'] == expected_in
    assert s['heatmap_size'] == [v // 2 for v in expected_in]  # tiny codec: stride 2
    assert (s['batch_size'], s['iters'], s['warmup']) == (2, 2, 1)
    assert (s['dtype'], s['flip'], s['with_cp'], s['compile']) == (dtype, flip, with_cp,
                                                                   False)
    assert s['modes'] == ['train', 'infer'] and s['device'] == 'cpu'
    assert s['threads'] == 1 and s['random_weights'] is True
    assert report['env']['torch'] and report['env']['torch_threads'] == 1
    assert report['model']['size_divisor'] == 8
    assert report['model']['params_trainable'] > 0

    expected_modes = {'train', 'infer'} | ({'loader'} if loader else set())
    assert set(report['results']) == expected_modes
    for mode in ('train', 'infer'):
        r = report['results'][mode]
        assert 'error' not in r, r
        for key in ('images_per_s', 'time_s', 'iter_ms_mean', 'iter_ms_median',
                    'first_iter_s', 'peak_rss_mb'):
            assert _positive_finite(r[key]), (mode, key, r[key])
        assert (r['iters'], r['warmup'], r['batch_size']) == (2, 1, 2)
        assert r['peak_mem_mb'] is None  # CUDA only
    assert math.isfinite(report['results']['train']['loss'])
    assert report['results']['infer']['num_predictions'] == 2
    if loader:
        r = report['results']['loader']
        assert _positive_finite(r['images_per_s'])
        assert r['workers'] == 0 and r['images'] == 4 and r['sample_data'] == 'coco'


def test_benchmark_rejects_bad_input_size():
    proc = run_benchmark('--input-size', '50', '64', '--iters', '1', timeout=120)
    assert proc.returncode != 0
    assert 'not a multiple of 8' in proc.stderr
    assert '--input-size 48 64' in proc.stderr  # a suggestion


def test_benchmark_test_mode_and_decode_cost(tmp_path):
    """--modes test runs the whole test loop (Runner.test(): loader, model, decode,
    CocoMetric) over generated images; infer reports the decode's cost."""
    out = tmp_path / 'bench.json'
    proc = run_benchmark('--batch-size', '2', '--iters', '2', '--warmup', '1',
                         '--test-images', '5', '--workers', '0', '--modes', 'infer',
                         'test', '--json', str(out))
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    report = json.loads(out.read_text())
    infer, test = report['results']['infer'], report['results']['test']
    assert infer['refine'] == 'dark'
    for key in ('decode_ms', 'decode_argmax_ms'):
        assert _positive_finite(infer[key]) and infer[key] < infer['iter_ms_mean']
    assert infer['decode_share'] == pytest.approx(infer['decode_ms'] / infer['iter_ms_mean'])
    assert test['images'] == 5 and test['crops'] >= 5  # 1-2 creatures per image
    assert test['iters'] == math.ceil(test['crops'] / 2) and test['warmup'] == 1
    for key in ('images_per_s', 'end_to_end_images_per_s', 'first_iter_s', 'metric_s',
                'time_s'):
        assert _positive_finite(test[key]), (key, test[key])
    assert 0 <= test['coco_AP'] <= 1  # CocoMetric ran on the generated annotations
    assert test['share_of_infer'] == pytest.approx(test['images_per_s'] /
                                                   infer['images_per_s'])
