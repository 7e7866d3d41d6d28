"""GenLoc on the miniature Stable Diffusion: run the tables of docs/experiments.md
("GenLoc on a miniature Stable Diffusion") and print them as markdown.

Every run (train + test on held-out images) is cached in WORK_DIR/<run>/result.json,
so an interrupted call resumes where it stopped; the logic is in
genloc_mmpose/mini_sd/experiments.py.

Usage:
    python tools/misc/mini_sd_experiments.py [--tables prior names table1 table6]
        [--seeds 0 1 2] [--labels 5 10 25 all] [--test-images N]
        [--work-dir work_dirs/mini_sd_experiments] [--sd demo/mini-sd]
    python tools/misc/mini_sd_experiments.py --curves prior no-prior peer
        --labels 5 25 all --seeds 0 --iters 3000 --curve-every 250 --test-images 100
        --plot docs/images/mini_sd_learning_curves.png
"""
import argparse
import json
import os.path as osp
import sys
import warnings

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))
warnings.filterwarnings('ignore', 'pkg_resources is deprecated', UserWarning)

from genloc_mmpose.mini_sd.experiments import (MINI_SD, TABLES, markdown,  # noqa: E402
                                               plot_curves, run, summarise,
                                               score_on_family)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--tables', nargs='+', default=list(TABLES), choices=list(TABLES))
    parser.add_argument('--seeds', nargs='+', type=int, default=[0, 1, 2])
    parser.add_argument('--work-dir', default='work_dirs/mini_sd_experiments')
    parser.add_argument('--sd', default=MINI_SD, help='the miniature SD folder')
    parser.add_argument('--labels', nargs='+', default=None,
                        help="only the rows with these labelled-image counts ('all': "
                        'the whole pool)')
    parser.add_argument('--test-images', type=int, default=None,
                        help='test on the first N held-out images (default: all 300)')
    parser.add_argument('--curves', nargs='+', metavar='VARIANT', default=None,
                        help='instead of tables: learning curves of these variants '
                        '(--labels, seed --seeds[0], --iters at a constant rate, validated '
                        'every --curve-every), plotted to --plot')
    parser.add_argument('--iters', type=int, default=3000, help='--curves: iterations')
    parser.add_argument('--curve-every', type=int, default=250)
    parser.add_argument('--plot', default='mini_sd_curves.png')
    args = parser.parse_args()
    import genloc_mmpose  # noqa: F401
    if args.curves:
        results = [run(args.work_dir, variant, None if n == 'all' else int(n), args.seeds[0],
                       iters=args.iters, sd=args.sd, test_images=args.test_images,
                       curve_every=args.curve_every, schedule='constant')
                   for n in args.labels or ['all'] for variant in args.curves]
        for r in results:
            print(r['run'], ' '.join(f"{p['iter']}:{p['PCK']:.3f}" for p in r['curve']))
        print(plot_curves(results, args.plot))
        return
    rows = {str(r[1] or 'all') for table in args.tables for r in TABLES[table][1]}
    unknown = [n for n in args.labels or [] if n not in rows]
    if unknown:
        order = sorted(rows, key=lambda n: (n == 'all', len(n), n))
        parser.error(f'--labels {" ".join(unknown)}: the tables {" ".join(args.tables)} '
                     f'have rows for {" ".join(order)} labelled images only (other counts: '
                     'genloc_mmpose.mini_sd.experiments.run(..., labels=N))')
    sections = []
    for table in args.tables:
        title, runs = TABLES[table]
        if args.labels:
            runs = [r for r in runs if str(r[1] or 'all') in args.labels]
        results = [run(args.work_dir, variant, labels, seed, holdout, iters, sd=args.sd,
                       test_images=args.test_images)
                   for variant, labels, holdout, iters in runs for seed in args.seeds]
        if table == 'table6':  # beside each unseen family: the same creatures, seen
            results += [score_on_family(args.work_dir, variant, holdout, labels, seed,
                                       sd=args.sd, test_images=args.test_images)
                        for variant, labels, holdout, _ in runs for seed in args.seeds]
        sections.append(f'### {title}\n\n{markdown(summarise(results))}\n')
        print(sections[-1], flush=True)
        with open(osp.join(args.work_dir, f'{table}.json'), 'w') as f:
            json.dump(results, f, indent=1)
    with open(osp.join(args.work_dir, 'tables.md'), 'w') as f:
        f.write('\n'.join(sections))


if __name__ == '__main__':
    main()
