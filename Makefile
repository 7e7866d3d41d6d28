# The two commands of the README: `make demo` and `make test` (each builds .venv first).
# `make test-old`: the plugin's tests on the oldest supported stack (.venv-old, README
# "Install into your MMPose environment").
PY := .venv/bin/python
OLD_PY := .venv-old/bin/python
# Unit tests of the method (models, codec, head, loss, backbone, weights, text
# conditions), one tiny train + test through the tools, the install checks. The other
# tests need the main environment's extras (gradio + chromium, onnx, sleap-io,
# openmim) and run there only.
OLD_TESTS := tests/test_backbone.py tests/test_ckhe.py tests/test_codec_head.py \
	tests/test_loss.py tests/test_sd_weights.py tests/test_text_conditions.py \
	tests/test_e2e.py::test_overfit_coco_sample \
	tests/test_install.py::test_declared_requirements_hold_in_this_environment \
	tests/test_install.py::test_user_config_inherits_shipped_config \
	tests/test_install.py::test_detector_ops_of_cuda_tensors_run_through_torchvision

.PHONY: env env-old test-env demo test test-quick test-old test-long

env:
	@bash tools/setup_env.sh

env-old:
	@bash tools/setup_env.sh old

# the tests' own needs beside .venv: Chromium (apt), Label Studio (.venv-label-studio)
test-env:
	@bash tools/setup_test_env.sh

demo: env
	$(PY) tools/demo.py

test: env test-env
	$(PY) -m pytest -q -n 2 --dist loadfile --durations=15 -m "not long" tests

# the checks past make test's budget (pytest.ini's `long`, ~30 min): the prior shown in
# the app (tests/test_showcase.py: three trainings), the AP-10K overfit, full-size SD-1.5
test-long: env test-env
	$(PY) -m pytest -q -n 2 --dist loadfile --durations=10 -m long tests

# the edit-test loop: everything but the tests marked slow (pytest.ini)
test-quick: env test-env
	$(PY) -m pytest -q -n 2 --dist loadfile --durations=10 -m "not slow and not long" tests

test-old: env-old
	$(OLD_PY) -m pytest -q $(OLD_TESTS)
