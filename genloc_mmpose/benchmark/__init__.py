"""Throughput and memory of a GenLoc config: train step, inference, data loading
(``tools/benchmark.py``, docs/benchmarks.md).

Builds the model from the config with MMPose's registry exactly as tools/train.py
does (``MODELS.build(cfg.model)``) and times, on a synthetic batch:

- ``train``: ``model(inputs, data_samples, mode='loss')``, ``parse_losses``,
  backward and optimizer step through the config's ``optim_wrapper`` (built by
  ``mmengine.optim.build_optim_wrapper``, ``accumulative_counts=1``; bf16 uses
  ``AmpOptimWrapper(dtype='bfloat16')`` on CUDA, ``torch.autocast`` on the CPU).
- ``infer``: ``model(inputs, data_samples, mode='predict')`` under ``no_grad``,
  flip test as ``--flip``/``--no-flip`` (default: the config's ``test_cfg``); the
  decode alone is timed too, with the config's refinement and as a plain argmax.
- ``test``: the whole test loop as tools/test.py runs it (``Runner.test()``: the
  config's test dataloader with its workers, model, decode, CocoMetric) over
  generated images (genloc_mmpose/synthetic/markers.py) of the input size.
- ``inferencer``: ``MMPoseInferencer`` with an mmdet person detector.
- ``--loader``: images/s of the config's ``train_dataloader`` pipeline on the CPU
  with N workers, over the sample data in demo/data (repeated); and crops/s per CPU
  core (one process, one thread) of the config's training pipeline and of its test
  pipeline over the COCO sample's person detections, each as configured ("new")
  and as MMPose's transforms alone run it ("old": no reduced decode, no image
  cache), interleaved in one run with the same random draws.

Inputs are (B, 3, H, W) in [-1, 1] (what the data preprocessor hands the model);
targets are the codec's Gaussian heatmaps of random keypoints. Warm-up iterations
are excluded; the device is synchronised around each timed iteration.

Modules, by kind of measurement: :mod:`.steps` (train / infer steps, the decode),
:mod:`.evaluation` (the test loop), :mod:`.data` (data loader, pipelines per core),
:mod:`.inferencer`, :mod:`.suite` (every GPU figure of docs/benchmarks.md); around
them :mod:`.config` (the config as benchmarked), :mod:`.timing`, :mod:`.report`
(environment, tables) and :mod:`.cli` (the command line).
"""


class BenchmarkError(Exception):
    """A user error: reported as ``error: ...`` with exit status 2."""
