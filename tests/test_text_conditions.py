"""Keypoint conditions from the keypoint names with SD's text encoder
(GenLocBackbone(condition_init='text')), on tiny random CLIP text encoders and a
tokenizer written from a small vocabulary (no hub)."""
import gc
import json
import os.path as osp
import string
import weakref

import pytest
import torch
from mmengine.config import Config

from conftest import REPO

CONTEXT = 48  # the tiny tokenizer's model_max_length (SD: 77)


def write_text_encoder(folder, width, encoder='text_encoder', tokenizer='tokenizer', seed=0):
    """A tiny random CLIP text encoder (hidden size ``width``) and a CLIP tokenizer
    (letters, digits, a few merges) in diffusers' layout under ``folder``."""
    from transformers import CLIPTextConfig, CLIPTextModel
    tok_dir = folder / tokenizer
    tok_dir.mkdir(parents=True, exist_ok=True)
    chars = list(string.ascii_lowercase + string.digits)
    merges = ['l e', 'le f', 'lef t</w>', 'p a', 'pa w</w>', 'e y', 'ey e</w>']
    vocab = (['<|startoftext|>', '<|endoftext|>'] + chars + [c + '</w>' for c in chars]
             + [m.replace(' ', '') for m in merges])
    (tok_dir / 'vocab.json').write_text(json.dumps({t: i for i, t in enumerate(vocab)}))
    (tok_dir / 'merges.txt').write_text('#version: 0.2\n' + '\n'.join(merges) + '\n')
    (tok_dir / 'tokenizer_config.json').write_text(json.dumps(
        dict(model_max_length=CONTEXT)))
    torch.manual_seed(seed)
    model = CLIPTextModel(CLIPTextConfig(
        vocab_size=len(vocab), hidden_size=width, intermediate_size=2 * width,
        num_hidden_layers=2, num_attention_heads=2, max_position_embeddings=CONTEXT,
        bos_token_id=0, eos_token_id=1, pad_token_id=1))
    model.save_pretrained(folder / encoder)
    return folder


@pytest.fixture(scope='module')
def sd_text_folder(tmp_path_factory, tiny_cfg):
    """A diffusers folder: the tiny U-Net (cross_attention_dim 32) and VAE, a
    32-wide text encoder and its tokenizer."""
    from diffusers import AutoencoderKL, UNet2DConditionModel
    folder = tmp_path_factory.mktemp('sd_text')
    torch.manual_seed(3)
    UNet2DConditionModel.from_config(dict(tiny_cfg.model.backbone.unet_cfg)).save_pretrained(
        folder / 'unet')
    AutoencoderKL.from_config(dict(tiny_cfg.model.backbone.vae_cfg)).save_pretrained(
        folder / 'vae')
    return str(write_text_encoder(folder, 32))


def expected_conditions(folder, prompts_and_words, encoder='text_encoder',
                        tokenizer='tokenizer', layer=-1):
    """Independent recomputation: for each (prompt, words), the mean hidden state
    (``layer`` of the encoder's hidden states; -1 = last, after the final norm) over
    the positions where the tokens of ``words`` occur in the padded prompt."""
    from transformers import CLIPTextModel, CLIPTokenizer
    tok = CLIPTokenizer.from_pretrained(osp.join(folder, tokenizer))
    model = CLIPTextModel.from_pretrained(osp.join(folder, encoder)).eval()
    rows = []
    for prompt, words in prompts_and_words:
        ids = tok(prompt, padding='max_length', max_length=CONTEXT).input_ids
        sub = tok(words, add_special_tokens=False).input_ids
        start = next(i for i in range(len(ids)) if ids[i:i + len(sub)] == sub)
        with torch.no_grad():
            out = model(torch.tensor([ids]), output_hidden_states=True)
        hidden = out.last_hidden_state if layer == -1 else out.hidden_states[layer]
        rows.append(hidden[0, start:start + len(sub)].mean(0))
    return torch.stack(rows)


@pytest.mark.parametrize('name,phrase', [
    ('left_eye', 'left eye'), ('L_F_Paw', 'left front paw'), ('R_B_Knee', 'right back knee'),
    ('RightHand', 'right hand'), ('wing.r', 'right wing'), ('L_EarBase', 'left ear base'),
    ('root_of_tail', 'root of tail'), ('front-left paw', 'left front paw'),
    ('TailBase', 'tail base'), ('finger2', 'finger 2'),
    # as animal-pose tools write them (DeepPoseKit fly / locust / zebra, DeepLabCut)
    ('forelegL1', 'left fore leg 1'), ('midlegR3', 'right middle leg 3'),
    ('hindleg_r_2', 'right hind leg 2'), ('antbaseR', 'right antenna base'),
    ('anttipL', 'left antenna tip'), ('eyeL', 'left eye'), ('L1A', 'left leg 1 a'),
    ('leftear', 'left ear'), ('LeftFrontPaw', 'left front paw'), ('l_ear', 'left ear'),
    ('tailbase', 'tail base'), ('R', 'right'), ('Lip', 'lip'), ('cleft', 'cleft')])
def test_keypoint_phrase(name, phrase):
    from genloc_mmpose.keypoint_names import keypoint_phrase
    assert keypoint_phrase(name) == phrase


def test_text_conditions_equal_recomputation(sd_text_folder):
    from genloc_mmpose.models.text_conditions import init_conditions
    names = ['L_F_Paw', 'nose', 'right_eye']
    cond = init_conditions('text', 3, 32, names=names, object_name='Cat',
                           folder=sd_text_folder)
    expected = expected_conditions(sd_text_folder, [
        ("the cat's left front paw", 'left front paw'),
        ("the cat's nose", 'nose'), ("the cat's right eye", 'right eye')])
    assert cond.shape == (3, 32) and cond.dtype == torch.float32
    torch.testing.assert_close(cond, expected, rtol=1e-5, atol=1e-5)
    # the object precedes the name in the prompt (causal encoder): it matters
    other = init_conditions('text', 3, 32, names=names, object_name='dog',
                            folder=sd_text_folder)
    assert not torch.allclose(other, cond)
    # the contrast: the mean condition kept, each one's difference from it x4
    sharp = init_conditions('text', 3, 32, names=names, object_name='Cat',
                            folder=sd_text_folder, text_contrast=4.0)
    mean = expected.mean(0)
    torch.testing.assert_close(sharp, mean + 4 * (expected - mean), rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(sharp.mean(0), mean, rtol=1e-5, atol=1e-5)
    cos = torch.nn.functional.normalize(sharp, dim=1) @ torch.nn.functional.normalize(
        expected, dim=1).T
    assert torch.all(cos.diagonal() < 1)
    # plus the random init (std 0.5) times 2: the draw of 'random' at the same seed
    torch.manual_seed(3)
    random = init_conditions('random', 3, 32, std=0.5)
    torch.manual_seed(3)
    noisy = init_conditions('text', 3, 32, std=0.5, names=names, object_name='Cat',
                            folder=sd_text_folder, text_noise=2.0)
    torch.testing.assert_close(noisy, expected + 2.0 * random, rtol=1e-5, atol=1e-5)
    # the shared part cut to a quarter, the differences kept
    torch.manual_seed(3)
    cut = init_conditions('text', 3, 32, std=0.5, names=names, object_name='Cat',
                          folder=sd_text_folder, text_noise=1.0, text_shared=0.25)
    torch.testing.assert_close(cut, random + 0.25 * mean + (expected - mean),
                               rtol=1e-5, atol=1e-5)
    torch.testing.assert_close((cut - random).mean(0), 0.25 * mean, rtol=1e-5, atol=1e-5)


def test_fp16_variant_files(tmp_path, sd_text_folder):
    """A folder with only ``model.fp16.safetensors`` (as many SD downloads) loads
    in fp32 and gives the conditions of its fp16-rounded weights."""
    from transformers import CLIPTextModel

    from genloc_mmpose.models.text_conditions import text_conditions
    write_text_encoder(tmp_path, 32)  # the same seed: the same weights
    model = CLIPTextModel.from_pretrained(str(tmp_path / 'text_encoder'))
    for f in (tmp_path / 'text_encoder').glob('model*.safetensors'):
        f.unlink()
    model.half().save_pretrained(tmp_path / 'text_encoder', variant='fp16')
    assert sorted(p.name for p in (tmp_path / 'text_encoder').iterdir()) == [
        'config.json', 'model.fp16.safetensors']
    cond = text_conditions(['nose'], 'cat', str(tmp_path), 32)
    full = text_conditions(['nose'], 'cat', sd_text_folder, 32)
    assert cond.dtype == torch.float32
    torch.testing.assert_close(cond, full, rtol=0, atol=0.05)
    assert not torch.equal(cond, full)  # read from the fp16 file, not elsewhere


def test_text_encoder_without_weights(tmp_path):
    """Only a variant that is not fp16 / bf16: the error names the folder, the files
    expected and found, and how to get the encoder."""
    from genloc_mmpose.models.text_conditions import text_conditions
    write_text_encoder(tmp_path, 32)
    (tmp_path / 'text_encoder' / 'model.safetensors').rename(
        tmp_path / 'text_encoder' / 'model.fp8.safetensors')
    with pytest.raises(FileNotFoundError, match=r"text_encoder holds no text-encoder "
                       r"weights: expected one of \['model\.safetensors'.*fp16 / bf16.*"
                       r"model\.fp8\.safetensors.*huggingface-cli"):
        text_conditions(['nose'], 'cat', str(tmp_path), 32)


def test_sdxl_two_encoders_concatenated(tmp_path):
    """SDXL folders: penultimate hidden states of both encoders, concatenated, when
    their widths add up to the U-Net's cross_attention_dim; else not supported."""
    from genloc_mmpose.models.text_conditions import text_conditions
    write_text_encoder(tmp_path, 12, seed=1)
    write_text_encoder(tmp_path, 20, 'text_encoder_2', 'tokenizer_2', seed=2)
    cond = text_conditions(['left_eye', 'tail'], 'bird', str(tmp_path), 32)
    pairs = [("the bird's left eye", 'left eye'), ("the bird's tail", 'tail')]
    expected = torch.cat([
        expected_conditions(str(tmp_path), pairs, layer=-2),
        expected_conditions(str(tmp_path), pairs, 'text_encoder_2', 'tokenizer_2', -2)], -1)
    torch.testing.assert_close(cond, expected, rtol=1e-5, atol=1e-5)
    with pytest.raises(ValueError, match=r'not supported.*12 \+ 20 = 32.*is 48'):
        text_conditions(['tail'], 'bird', str(tmp_path), 48)


def test_backbone_text_init_not_kept_and_slim_checkpoint(build_backbone, sd_text_folder,
                                                         monkeypatch):
    from transformers import CLIPTextModel
    loaded = []
    original = CLIPTextModel.from_pretrained.__func__

    def from_pretrained(cls, *args, **kwargs):
        model = original(cls, *args, **kwargs)
        loaded.append(weakref.ref(model))
        return model

    monkeypatch.setattr(CLIPTextModel, 'from_pretrained', classmethod(from_pretrained))
    names = [f'kp{i}' for i in range(17)]
    model = build_backbone(pretrained=sd_text_folder, condition_init='text',
                           keypoint_names=names, object_name='person')
    gc.collect()
    assert len(loaded) == 1 and loaded[0]() is None  # loaded once, then dropped
    assert not any('text' in type(m).__name__.lower() for m in model.modules())
    expected = expected_conditions(sd_text_folder, [
        (f"the person's kp {i}", f'kp {i}') for i in range(17)])
    torch.testing.assert_close(model.conditions.data, expected, rtol=1e-5, atol=1e-5)
    assert model.conditions.requires_grad
    # the slim checkpoint holds the same keys and sizes as with random conditions
    random = build_backbone(pretrained=sd_text_folder)
    state, state_random = model.state_dict(), random.state_dict()
    assert {k: v.shape for k, v in state.items()} == {
        k: v.shape for k, v in state_random.items()}
    assert all(k == 'conditions' or '.lora_' in k for k in state)
    # the text options reach the conditions; the random part is the 'random' backbone's
    random = build_backbone(seed=5, pretrained=sd_text_folder).conditions.data
    mixed = build_backbone(seed=5, pretrained=sd_text_folder, condition_init='text',
                           keypoint_names=names, object_name='person',
                           condition_text_contrast=2.0, condition_text_noise=1.0,
                           condition_text_shared=0.25).conditions.data
    mean = expected.mean(0)
    torch.testing.assert_close(mixed, random + 0.25 * mean + 2.0 * (expected - mean),
                               rtol=1e-5, atol=1e-5)


def test_load_keeps_trained_conditions(build_backbone, sd_text_folder, tmp_path):
    """As the Runner for resume / load_from: build (text init), init_weights, load
    the checkpoint: the trained conditions win."""
    from mmengine.runner import load_checkpoint, save_checkpoint
    kwargs = dict(pretrained=sd_text_folder, condition_init='text',
                  keypoint_names=['left_eye', 'right_eye'], num_keypoints=2)
    trained = build_backbone(**kwargs)
    with torch.no_grad():
        trained.conditions.add_(torch.randn_like(trained.conditions))
    ckpt = str(tmp_path / 'ckpt.pth')
    save_checkpoint({'state_dict': trained.state_dict()}, ckpt)
    fresh = build_backbone(**kwargs)
    assert not torch.equal(fresh.conditions, trained.conditions)
    fresh.init_weights()
    load_checkpoint(fresh, ckpt, strict=True)
    torch.testing.assert_close(fresh.conditions, trained.conditions, rtol=0, atol=0)


@pytest.mark.parametrize('config,dataset,left_eye', [
    ('configs/genloc/ap10k/genloc_sd15-lora16_8xb25-100e_ap10k-256x256.py', 'ap10k', 'L_Eye'),
    ('configs/genloc/coco/genloc_sd15-lora16_8xb25-14e_coco-256x192.py', 'coco', 'left_eye')])
def test_paper_configs_name_their_keypoints(config, dataset, left_eye, sd_text_folder):
    """The paper configs switch to text init with one option: the names come from
    MMPose's metainfo of the dataset (as the dataset itself reads it)."""
    from mmpose.datasets.datasets.utils import parse_pose_metainfo

    from genloc_mmpose.keypoint_names import keypoint_names_from
    from genloc_mmpose.models.text_conditions import init_conditions
    cfg = Config.fromfile(osp.join(REPO, config))
    backbone = cfg.model.backbone
    assert backbone.condition_init == 'random'  # the paper's setting stays the default
    meta = parse_pose_metainfo(dict(from_file=f'configs/_base_/datasets/{dataset}.py'))
    names = keypoint_names_from(backbone.keypoint_names)
    assert names == [meta['keypoint_id2name'][i] for i in range(17)]
    assert len(names) == backbone.num_keypoints
    cond = init_conditions('text', backbone.num_keypoints, 32, names=backbone.keypoint_names,
                           object_name=backbone.object_name, folder=sd_text_folder)
    expected = expected_conditions(sd_text_folder, [
        (f"the {backbone.object_name}'s left eye", 'left eye')])
    torch.testing.assert_close(cond[names.index(left_eye)], expected[0], rtol=1e-5,
                               atol=1e-5)


def test_errors(tmp_path, sd_text_folder, sd_folder):
    from genloc_mmpose.models.text_conditions import init_conditions
    with pytest.raises(FileNotFoundError, match=r'text_encoder.*not found.*huggingface-cli'
                       r'.*condition_init="random"'):
        init_conditions('text', 1, 32, names=['nose'], folder=sd_folder[0])
    with pytest.raises(ValueError, match='pretrained and text_encoder are None'):
        init_conditions('text', 1, 32, names=['nose'], folder=None)
    with pytest.raises(ValueError, match='needs keypoint_names'):
        init_conditions('text', 1, 32, folder=sd_text_folder)
    with pytest.raises(ValueError, match='2 names for num_keypoints=3'):
        init_conditions('text', 3, 32, names=['a', 'b'], folder=sd_text_folder)
    with pytest.raises(ValueError, match='not supported.*32.*is 768'):
        init_conditions('text', 1, 768, names=['nose'], folder=sd_text_folder)
    with pytest.raises(ValueError, match="one of \\('random', 'text'\\)"):
        init_conditions('names', 1, 32)
    single_file = tmp_path / 'sd.safetensors'
    single_file.write_bytes(b'')
    with pytest.raises(FileNotFoundError, match='not a folder.*text_encoder when'):
        init_conditions('text', 1, 32, names=['nose'], folder=str(single_file))
