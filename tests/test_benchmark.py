"""tools/benchmark.py (genloc_mmpose/benchmark/) end to end on the tiny config, on the
CPU: the benchmarks through the command line's ``run`` in this process, the GPU suite's
dry run through the script itself."""
import contextlib
import io
import json
import math
import os
import os.path as osp
import subprocess
import sys

import pytest

from conftest import REPO, TINY_CONFIG

BENCHMARK = osp.join(REPO, 'tools', 'benchmark.py')


def run_benchmark(*args):
    """``tools/benchmark.py TINY_CONFIG --device cpu --threads 1 ARGS`` in this process:
    (exit status, stdout)."""
    from genloc_mmpose.benchmark.cli import run
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        status = run([TINY_CONFIG, '--device', 'cpu', '--threads', '1', *args])
    return status, out.getvalue()


def _positive_finite(value):
    return isinstance(value, (int, float)) and math.isfinite(value) and value > 0


@pytest.mark.slow
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
        args += ['--loader', '--workers', '0', '--loader-iters', '2', '--pipeline-rounds', '1',
                 # a deferred decode: the per-core table also times decode_cache_dir
                 '--cfg-options', 'train_dataloader.dataset.pipeline.0.reduced_decode=True',
                 'train_dataloader.dataset.pipeline.2.type=GenLocTopdownAffine']
    status, stdout = run_benchmark(*args)
    assert status == 0, stdout[-3000:]
    assert 'img/s' in stdout  # the table

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
        # crops/s per core, MMPose's transforms (old) vs as configured (new)
        per_core = report['loader_per_core']
        assert per_core['test']['instances'] == 118 and per_core['test']['images'] == 4
        assert per_core['train']['data'] == 'coco' and per_core['train']['rounds'] == 1
        for r in per_core.values():
            assert r['crops'] >= 64 and _positive_finite(r['speedup'])
            assert r['old']['pipeline'][0] == 'GenLocLoadImage'
            for key in ('old', 'new', 'cached')[:3 if r is per_core['train'] else 2]:
                assert _positive_finite(r[key]['crops_per_s'])
                assert set(r[key]['transform_ms']) >= {'GenLocLoadImage', 'PackPoseInputs'}
        assert _positive_finite(per_core['train']['speedup_cached'])
        assert 'cached' not in per_core['test']  # a test pipeline decodes no deferred JPEG
        assert 'loader per CPU core' in stdout and 'new+cache' in stdout


def test_benchmark_rejects_bad_input_size(capsys):
    """The command line's error: exit status 2, the reason and a suggestion."""
    from genloc_mmpose.benchmark.cli import main
    with pytest.raises(SystemExit) as exit_:
        main([TINY_CONFIG, '--device', 'cpu', '--input-size', '50', '64', '--iters', '1'])
    err = capsys.readouterr().err
    assert exit_.value.code == 2
    assert err.startswith('error: ') and 'not a multiple of 8' in err
    assert '--input-size 48 64' in err  # a suggestion


@pytest.mark.slow
def test_benchmark_test_mode_and_decode_cost(tmp_path):
    """--modes test runs the whole test loop (Runner.test(): loader, model, decode,
    CocoMetric) over generated images; infer reports the decode's cost."""
    out = tmp_path / 'bench.json'
    status, stdout = run_benchmark('--batch-size', '2', '--iters', '2', '--warmup', '1',
                                   '--test-images', '5', '--workers', '0', '--modes',
                                   'infer', 'test', '--json', str(out))
    assert status == 0, stdout[-3000:]
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


@pytest.mark.long  # 36 s: past make test's budget, in make test-long
def test_suite_dry_run(tmp_path):
    """``--suite DIR --dry-run``: every step of the GPU suite on the CPU with the tiny
    config (tiny sizes, no compile): one JSON per step, suite.json, summary.md."""
    from genloc_mmpose.benchmark.suite import suite_steps
    out = tmp_path / 'suite'
    env = dict(os.environ, PYTHONWARNINGS='ignore', OMP_NUM_THREADS='1')
    proc = subprocess.run([sys.executable, BENCHMARK, '--suite', str(out), '--dry-run'],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    record = json.loads((out / 'suite.json').read_text())
    names = [name for name, _, _ in suite_steps(dry_run=True)]
    assert [s['name'] for s in record['steps']] == names and record['dry_run']
    assert all(s['error'] is None for s in record['steps']), record['steps']
    # the real suite: the same steps on the GPU with the SD-1.5 configs
    real = suite_steps()
    assert [name for name, _, _ in real] == names
    assert all('--device' in a and a[a.index('--device') + 1] == 'cuda' for _, _, a in real)
    assert {cfg for _, cfg, _ in real} >= {
        'configs/genloc/ap10k/genloc_sd15-lora16_8xb25-100e_ap10k-256x256.py',
        'configs/genloc/coco_wholebody/genloc_sd15-lora16_8xb25-14e_coco-wholebody-256x192.py'}
    modes = {}
    for name in names:
        report = json.loads((out / f'{name}.json').read_text())
        for mode, result in report['results'].items():
            assert 'error' not in result, (name, mode, result)
            assert _positive_finite(result['images_per_s']), (name, mode)
            modes.setdefault(mode, []).append(name)
        if name == 'k133_256x192':
            assert report['model']['num_keypoints'] == 133
        if name == 'loader_8_workers':
            per_core = report['loader_per_core']
            assert set(per_core) == {'train', 'test'}
            assert all(_positive_finite(r[k]['crops_per_s']) for r in per_core.values()
                       for k in ('old', 'new'))
    assert set(modes) == {'train', 'infer', 'test', 'loader', 'inferencer'}
    summary = (out / 'summary.md').read_text()
    assert summary.startswith('# GenLoc GPU benchmark suite (dry run')
    rows = [line for line in summary.splitlines() if line.startswith('| ')]
    assert len({line.count('|') for line in rows}) == 1  # one table, aligned columns
    assert all(f'| {name} |' in summary for name in names) and 'failed' not in summary
