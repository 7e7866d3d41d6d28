"""The synthetic CPU check: each GenLoc variant trained and tested on the procedural
marker dataset (:mod:`.markers`), a markdown table of held-out AP and of AP on seen
training images (docs/experiments.md). Each variant is one config of
``configs/genloc/synthetic/``, run in this process by
:func:`genloc_mmpose.engine.experiment.train_and_test`."""
import json
import os
import os.path as osp
from typing import Dict, Optional, Sequence

from ..fileio import atomic_write
from ..resources import config_file
from . import markers

BASE = 'genloc_tiny_1xb16-300it_synthetic-64x64'
VARIANTS = {  # name -> (config suffix, description)
    'ckhe-hel': ('', 'CKHE + HEL + LoRA (GenLoc)'),
    'crossattn-hel': ('_crossattn', 'cross-attention maps + HEL + LoRA'),
    'ckhe-mse': ('_mse', 'CKHE + MSE + LoRA'),
    'condonly': ('_condonly', 'CKHE + HEL, conditions only (no LoRA)'),
    'crossattn-mse': ('_crossattn-mse', 'cross-attention maps + MSE + LoRA'),
}


def config_of(variant: str) -> str:
    suffix = VARIANTS[variant][0]
    return config_file('genloc', 'synthetic', f'{BASE}{suffix}.py')


def run(work_dir: str, data_root: str, variants: Sequence[str] = tuple(VARIANTS),
        cfg_options: Optional[dict] = None) -> Dict[str, dict]:
    """Train and test each variant in ``work_dir/VARIANT`` on the marker data in
    ``data_root`` (written first if missing); results also in
    ``work_dir/results.{md,json}``."""
    from mmengine.config import Config

    from ..engine.experiment import train_and_test
    if not osp.isfile(osp.join(data_root, 'annotations', 'synthetic_test.json')):
        for line in markers.write_dataset(data_root):
            print(line)
    os.makedirs(work_dir, exist_ok=True)
    data_root = osp.join(osp.abspath(data_root), '')
    results = {}
    for name in variants:
        cfg = Config.fromfile(config_of(name))
        cfg.merge_from_dict(cfg_options or {})
        for split in ('train', 'val', 'test'):
            cfg[f'{split}_dataloader'].dataset.data_root = data_root
        for split in ('val', 'test'):  # the metric's annotations: same file, new root
            evaluator = cfg[f'{split}_evaluator']
            ann = evaluator.ann_file
            evaluator.ann_file = data_root + (ann[len(cfg.data_root):]
                                              if ann.startswith(cfg.data_root) else ann)
        out = train_and_test(cfg, osp.abspath(osp.join(work_dir, name)), f'synthetic_{name}')
        results[name] = dict(description=VARIANTS[name][1], config=config_of(name),
                             checkpoint=out['checkpoint'], test=out['test'], seen=out['val'],
                             final_train_loss=out['loss'], train_s=round(out['train_s']),
                             test_s=round(out['test_s']))
        print(name, json.dumps(results[name]), flush=True)
    atomic_write(osp.join(work_dir, 'results.md'), table(results) + '\n', 'w')
    atomic_write(osp.join(work_dir, 'results.json'), json.dumps(results, indent=2), 'w')
    return results


def table(results: Dict[str, dict]) -> str:
    """The markdown table of :func:`run`'s results."""
    nan = float('nan')
    rows = ['| variant | config | held-out AP | AP50 | AP75 | AR | AP on seen train '
            'images | train / test wall time |', '|---|---|---|---|---|---|---|---|']
    for r in results.values():
        t, s = r['test'] or {}, r['seen'] or {}
        rows.append(
            f"| {r['description']} | `{osp.basename(r['config'])}` | "
            f"{t.get('AP', nan):.3f} | {t.get('AP .5', nan):.3f} | "
            f"{t.get('AP .75', nan):.3f} | {t.get('AR', nan):.3f} | "
            f"{s.get('AP', nan):.3f} | {r['train_s']} s / {r['test_s']} s |")
    return '\n'.join(rows)
