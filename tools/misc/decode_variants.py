"""Held-out AP of one checkpoint under several decodings and layer fusions
(:mod:`genloc_mmpose.evaluation.decode_variants`: the variants, how they are run).

Usage:
    python tools/misc/decode_variants.py CONFIG CHECKPOINT [--variants ...]
        [--no-flip] [--out results.md]
"""
import argparse
import warnings

warnings.filterwarnings('ignore', 'pkg_resources is deprecated', UserWarning)

from genloc_mmpose.evaluation import decode_variants  # noqa: E402
from genloc_mmpose.fileio import atomic_write  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config')
    parser.add_argument('checkpoint')
    parser.add_argument('--variants', nargs='+', default=list(decode_variants.DEFAULT_VARIANTS),
                        help='argmax, dark<k>, {bicubic,geometric,finest,layer<i>}-dark<k>')
    parser.add_argument('--no-flip', action='store_true', help='no flip test')
    parser.add_argument('--out', help='also write the markdown table here')
    args = parser.parse_args()
    for name in args.variants:
        if not decode_variants.VARIANT.match(name):
            parser.error(f'--variants: unknown variant {name!r}')
    rows = decode_variants.run(args.config, args.checkpoint, args.variants,
                               not args.no_flip)
    table = decode_variants.table(rows)
    print(table)
    if args.out:
        atomic_write(args.out, table + '\n', 'w')


if __name__ == '__main__':
    main()
