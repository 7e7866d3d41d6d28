"""Run the synthetic CPU check: train + test each GenLoc variant on the procedural
marker dataset and print a markdown table of held-out AP (and AP on seen images).

Each variant runs the plain commands, one after the other:
    python tools/train.py CONFIG --work-dir WORK_DIR/VARIANT
    python tools/test.py WORK_DIR/VARIANT/CONFIG_NAME.py WORK_DIR/VARIANT/iter_N.pth \
        --work-dir WORK_DIR/VARIANT/test
(the test uses the config as dumped at training time, so later edits of the
configs it inherits cannot make the checkpoint and the model disagree)
with OMP_NUM_THREADS=1 (on a small, shared CPU, two OpenMP threads spinning
against other processes made a training step ~8x slower than one thread).

Usage:
    python tools/misc/synthetic_ablation.py [--work-dir work_dirs/synthetic]
        [--variants ckhe-hel crossattn-hel ...] [--cfg-options KEY=VALUE ...]
The data is generated first if data/synthetic_markers/ is missing. Results go to
WORK_DIR/results.{md,json}.
"""
import argparse
import json
import os
import os.path as osp
import re
import subprocess
import sys
import time

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIG_DIR = osp.join('configs', 'genloc', 'synthetic')
BASE = 'genloc_tiny_1xb16-300it_synthetic-64x64'
VARIANTS = {  # name -> (config suffix, description)
    'ckhe-hel': ('', 'CKHE + HEL + LoRA (GenLoc)'),
    'crossattn-hel': ('_crossattn', 'cross-attention maps + HEL + LoRA'),
    'ckhe-mse': ('_mse', 'CKHE + MSE + LoRA'),
    'condonly': ('_condonly', 'CKHE + HEL, conditions only (no LoRA)'),
    'crossattn-mse': ('_crossattn-mse', 'cross-attention maps + MSE + LoRA'),
}
METRIC = re.compile(r'coco/AP: ([-\d.]+)\s+coco/AP \.5: ([-\d.]+)\s+coco/AP \.75: '
                    r'([-\d.]+).*?coco/AR: ([-\d.]+)')


def _run(cmd, log_path, env):
    print('$', ' '.join(cmd), flush=True)
    start = time.time()
    with open(log_path, 'w') as log:
        proc = subprocess.run(cmd, cwd=REPO, env=env, stdout=log,
                              stderr=subprocess.STDOUT)
    with open(log_path) as f:
        text = f.read()
    if proc.returncode:
        sys.exit(f'failed ({proc.returncode}), see {log_path}:\n{text[-3000:]}')
    return text, time.time() - start


def _metrics(text):
    found = METRIC.findall(text)
    if not found:
        return None
    ap, ap50, ap75, ar = map(float, found[-1])
    return dict(AP=ap, AP50=ap50, AP75=ap75, AR=ar)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--work-dir', default=osp.join('work_dirs', 'synthetic'))
    parser.add_argument('--variants', nargs='+', default=list(VARIANTS),
                        choices=list(VARIANTS))
    parser.add_argument('--cfg-options', nargs='+', default=[],
                        help='passed to tools/train.py')
    args = parser.parse_args()

    env = dict(os.environ, OMP_NUM_THREADS=os.environ.get('OMP_NUM_THREADS', '1'))
    py = sys.executable
    if not osp.isfile(osp.join(REPO, 'data', 'synthetic_markers', 'annotations',
                               'synthetic_test.json')):
        subprocess.run([py, 'tools/misc/make_synthetic_keypoints.py'], cwd=REPO,
                       env=env, check=True)
    work_dir = osp.join(REPO, args.work_dir)
    os.makedirs(work_dir, exist_ok=True)
    results = {}
    for name in args.variants:
        suffix, desc = VARIANTS[name]
        config = osp.join(CONFIG_DIR, f'{BASE}{suffix}.py')
        wd = osp.join(args.work_dir, name)
        opts = ['--cfg-options'] + args.cfg_options if args.cfg_options else []
        train_log, train_s = _run([py, 'tools/train.py', config, '--work-dir', wd] + opts,
                                  osp.join(work_dir, f'{name}.train.log'), env)
        with open(osp.join(REPO, wd, 'last_checkpoint')) as f:
            ckpt = f.read().strip()
        # test with the config as trained (mmengine dumps it into the work dir)
        trained_cfg = osp.join(wd, osp.basename(config))
        test_log, test_s = _run(
            [py, 'tools/test.py', trained_cfg, ckpt, '--work-dir', osp.join(wd, 'test')],
            osp.join(work_dir, f'{name}.test.log'), env)
        loss = re.findall(r'Iter\(train\).*?loss: ([\d.]+)', train_log)
        results[name] = dict(
            description=desc, config=config, checkpoint=osp.relpath(ckpt, REPO),
            test=_metrics(test_log), seen=_metrics(train_log),
            final_train_loss=float(loss[-1]) if loss else None,
            train_s=round(train_s), test_s=round(test_s))
        print(name, json.dumps(results[name]), flush=True)

    rows = ['| variant | config | held-out AP | AP50 | AP75 | AR | AP on seen train '
            'images | train / test wall time |', '|---|---|---|---|---|---|---|---|']
    for name, r in results.items():
        t, s = r['test'] or {}, r['seen'] or {}
        rows.append(
            f"| {r['description']} | `{osp.basename(r['config'])}` | "
            f"{t.get('AP', float('nan')):.3f} | {t.get('AP50', float('nan')):.3f} | "
            f"{t.get('AP75', float('nan')):.3f} | {t.get('AR', float('nan')):.3f} | "
            f"{s.get('AP', float('nan')):.3f} | {r['train_s']} s / {r['test_s']} s |")
    table = '\n'.join(rows)
    print(table)
    with open(osp.join(work_dir, 'results.md'), 'w') as f:
        f.write(table + '\n')
    with open(osp.join(work_dir, 'results.json'), 'w') as f:
        json.dump(results, f, indent=2)


if __name__ == '__main__':
    main()
