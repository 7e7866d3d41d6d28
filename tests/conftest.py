import copy
import os.path as osp

import pytest
import torch
from mmengine.config import Config

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
SHARED_DATA = osp.join(osp.dirname(REPO), 'shared', 'data')
TINY_CONFIG = osp.join(REPO, 'configs', 'genloc', 'tiny', 'genloc_tiny_1xb12-300it_coco-128x96.py')


@pytest.fixture(scope='session')
def tiny_cfg():
    return Config.fromfile(TINY_CONFIG)


@pytest.fixture
def build_backbone(tiny_cfg):
    """Build a tiny random GenLocBackbone; keyword overrides replace config keys."""
    from genloc_mmpose.models import GenLocBackbone

    def build(seed=0, **overrides):
        kwargs = copy.deepcopy(tiny_cfg.model.backbone.to_dict())
        kwargs.pop('type')
        # the tiny architecture with the method's training setup: frozen U-Net + LoRA
        kwargs.update(freeze_unet=True, lora=dict(
            r=8, lora_alpha=8, target_modules=['to_q', 'to_k', 'to_v', 'to_out.0']))
        kwargs.update(overrides)
        torch.manual_seed(seed)
        return GenLocBackbone(**kwargs)

    return build


@pytest.fixture
def images():
    torch.manual_seed(1)
    return torch.rand(2, 3, 64, 48) * 2 - 1


@pytest.fixture(scope='session')
def sd_folder(tmp_path_factory, tiny_cfg):
    """A local diffusers folder written with save_pretrained (the real-weights path),
    holding the tiny random U-Net and VAE: (folder, unet, vae)."""
    from diffusers import AutoencoderKL, UNet2DConditionModel
    folder = tmp_path_factory.mktemp('sd_tiny')
    torch.manual_seed(3)
    unet = UNet2DConditionModel.from_config(dict(tiny_cfg.model.backbone.unet_cfg))
    vae = AutoencoderKL.from_config(dict(tiny_cfg.model.backbone.vae_cfg))
    unet.save_pretrained(folder / 'unet')
    vae.save_pretrained(folder / 'vae')
    return str(folder), unet, vae


@pytest.fixture(scope='session')
def coco_ckpt(tmp_path_factory):
    """The tiny COCO config trained on the COCO sample by tools/train.py (300
    iterations; the overfit of tests/test_e2e.py, shared by the tests that need a
    trained model): (work_dir, checkpoint)."""
    from test_e2e import COCO, COCO_CFG, data_options, run_tool
    work_dir = str(tmp_path_factory.mktemp('coco'))
    # a guard against a hang, not a speed limit: 6.5 min on 2 quiet cores, 12 min with
    # another job beside it, and over 15 (the default guard) on a busy machine
    run_tool('tools/train.py', COCO_CFG, '--work-dir', work_dir, '--cfg-options',
             *data_options(COCO), timeout=2400)
    ckpt = osp.join(work_dir, 'iter_300.pth')
    assert osp.isfile(ckpt)
    return work_dir, ckpt
