"""Export a GenLoc model's inference graph to ONNX and check it with ONNX Runtime.

The graph maps crops (B, 3, H, W) in [-1, 1] (RGB, ``(pixel - 127.5) / 127.5``)
to the fused correlation maps (B, K, H/s, W/s); decode them with the config's
codec (``GenLocHeatmap.batch_decode``), as genloc_mmpose.export explains. Exported
in fp32 (``compute_dtype`` off, no ``torch.compile``), batch dimension dynamic.

Usage:
    python tools/deployment/pytorch2onnx.py CONFIG CHECKPOINT [--output-file F]
        [--flip-test] [--no-verify] [--cfg-options KEY=VALUE ...]
Needs: pip install onnx onnxscript onnxruntime (not part of the default install).
"""
import argparse
import os.path as osp
import sys
import warnings

warnings.filterwarnings('ignore', 'pkg_resources is deprecated', UserWarning)
sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

import numpy as np  # noqa: E402
import torch  # noqa: E402
from mmengine.config import DictAction  # noqa: E402

from genloc_mmpose.export import export_onnx  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config')
    parser.add_argument('checkpoint', help="checkpoint, or 'none' for the config's "
                        'initial weights')
    parser.add_argument('--output-file', default='genloc.onnx')
    parser.add_argument('--flip-test', action='store_true',
                        help='put the flip test (mirrored crops, averaged) in the graph')
    parser.add_argument('--no-verify', action='store_true',
                        help='skip the ONNX Runtime vs PyTorch check')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction, default={})
    args = parser.parse_args()

    from mmpose.apis import init_model
    options = dict(args.cfg_options)
    options.update({'model.backbone.compute_dtype': None, 'model.backbone.compile': False})
    checkpoint = None if args.checkpoint.lower() == 'none' else args.checkpoint
    model = init_model(args.config, checkpoint, device='cpu', cfg_options=options)
    flip_indices = model.dataset_meta['flip_indices'] if args.flip_test else None
    input_size = model.head.decoder.input_size
    graph = export_onnx(model, args.output_file, input_size, flip_indices)
    print(f'wrote {args.output_file}: inputs (B, 3, {input_size[1]}, {input_size[0]}) '
          f'-> heatmaps (B, K, {model.head.heatmap_size[1]}, {model.head.heatmap_size[0]})'
          f'{" (flip test inside)" if flip_indices else ""}')
    if args.no_verify:
        return
    import onnxruntime
    session = onnxruntime.InferenceSession(args.output_file,
                                           providers=['CPUExecutionProvider'])
    inputs = torch.rand(2, 3, input_size[1], input_size[0],
                        generator=torch.Generator().manual_seed(0)) * 2 - 1
    with torch.no_grad():
        expected = graph(inputs).numpy()
    got = session.run(None, {'inputs': inputs.numpy()})[0]
    error = np.abs(got - expected).max() / np.abs(expected).max()
    print(f'ONNX Runtime vs PyTorch, batch 2: max |difference| / max |map| = {error:.2e}')
    if error > 1e-4:
        sys.exit('error: the exported graph disagrees with PyTorch')


if __name__ == '__main__':
    main()
