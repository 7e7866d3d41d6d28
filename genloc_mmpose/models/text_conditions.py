"""Keypoint conditions initialised from the keypoint names with SD's own text encoder.

``GenLocBackbone(condition_init='text')``: each keypoint's condition (D,) is the mean,
over the tokens of its name inside :data:`PROMPT_TEMPLATE` (e.g. "the cat's left
front paw"), of the hidden states that Stable Diffusion's pipeline feeds its U-Net for
that prompt, so a "left ear" condition starts where SD already attends for a left ear:

- SD-1.x / SD-2.x: the CLIP text encoder's last hidden state (768 / 1024 wide; the
  SD-2.x folder's encoder already ends at the layer SD-2 uses);
- SDXL (a folder with ``text_encoder_2``): the penultimate hidden states of both
  encoders, concatenated (768 + 1280 = 2048), as ``StableDiffusionXLPipeline`` does.

The encoder is read from ``FOLDER/text_encoder`` and ``FOLDER/tokenizer`` (diffusers
layout, offline), used once at build time and dropped: it is kept neither in memory
nor in checkpoints (the conditions are trained parameters and saved as such).

The words of a name (``L_F_Paw`` -> "left front paw", ``face-36`` -> "right eye outer
corner") are :func:`genloc_mmpose.keypoint_names.keypoint_phrase`'s.
"""
import os.path as osp
from typing import List, Optional, Sequence, Union

import torch
from mmengine.utils import digit_version
from torch import Tensor

from ..keypoint_names import keypoint_names_from, keypoint_phrase, object_phrase
from .sd_weights import weight_variant

# the object first: CLIP's text encoder is causal, a token sees only what precedes it
PROMPT_TEMPLATE = "the {object}'s {keypoint}"
CONDITION_INITS = ('random', 'text')
# (text encoder, tokenizer) sub-folders; SDXL adds the second pair
ENCODER_FOLDERS = (('text_encoder', 'tokenizer'), ('text_encoder_2', 'tokenizer_2'))
WEIGHT_NAMES = ('model.safetensors', 'pytorch_model.bin', 'model.safetensors.index.json',
                'pytorch_model.bin.index.json')
TEXT_ENCODER_HELP = (
    'condition_init="text" reads Stable Diffusion\'s text encoder from a local '
    'diffusers folder holding text_encoder/ and tokenizer/ (SDXL: also text_encoder_2/ '
    'and tokenizer_2/): model.backbone.pretrained, or model.backbone.text_encoder when '
    'pretrained is a single checkpoint file or None. To fetch them on a machine with '
    'internet: `huggingface-cli download stable-diffusion-v1-5/stable-diffusion-v1-5 '
    '--include "text_encoder/*" "tokenizer/*" --local-dir <folder>`; or set '
    'model.backbone.condition_init="random".')


def dtype_kwarg() -> str:
    """from_pretrained's dtype argument: ``dtype`` since transformers 4.56,
    ``torch_dtype`` before (the oldest supported is 4.44)."""
    import transformers
    return ('dtype' if digit_version(transformers.__version__) >= digit_version('4.56.0')
            else 'torch_dtype')


def _encoder_folders(folder: Optional[str]) -> List[tuple]:
    if folder is None:
        raise ValueError('condition_init="text" needs a Stable Diffusion folder, but '
                         'pretrained and text_encoder are None. ' + TEXT_ENCODER_HELP)
    folder = osp.expanduser(str(folder))
    if not osp.isdir(folder):
        raise FileNotFoundError(f'{folder} is not a folder. ' + TEXT_ENCODER_HELP)
    missing = [osp.join(folder, sub) for sub in ENCODER_FOLDERS[0]
               if not osp.isdir(osp.join(folder, sub))]
    if missing:
        raise FileNotFoundError(f'No text encoder: {" and ".join(missing)} not found. '
                                + TEXT_ENCODER_HELP)
    return [(osp.join(folder, enc), osp.join(folder, tok)) for enc, tok in ENCODER_FOLDERS
            if osp.isdir(osp.join(folder, enc))]


def _token_span(tokenizer, prompt_prefix: str, phrase: str, prompt_ids: List[int]):
    """Positions of ``phrase``'s tokens in the ids of ``prompt_prefix + phrase + ...``
    (after the start token)."""
    start = 1 + len(tokenizer(prompt_prefix, add_special_tokens=False).input_ids)
    name_ids = tokenizer(phrase, add_special_tokens=False).input_ids
    stop = start + len(name_ids)
    if stop >= len(prompt_ids):
        raise ValueError(f'The keypoint name "{phrase}" does not fit in the text '
                         f'encoder\'s {tokenizer.model_max_length} tokens; shorten it.')
    if list(prompt_ids[start:stop]) != name_ids:
        raise RuntimeError(f'Could not find the tokens of "{phrase}" in its prompt; '
                           f'check PROMPT_TEMPLATE ({PROMPT_TEMPLATE!r}).')
    return slice(start, stop)


@torch.no_grad()
def text_conditions(names: Sequence[str], object_name: str, folder: Optional[str],
                    width: int) -> Tensor:
    """Conditions (K, width) from SD's text encoder(s) in ``folder`` (module
    docstring); ``width`` is the U-Net's ``cross_attention_dim``. Raises a clear
    error for a missing encoder or widths that do not add up to ``width``."""
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer
    pairs = _encoder_folders(folder)
    widths = [CLIPTextConfig.from_pretrained(enc, local_files_only=True).hidden_size
              for enc, _ in pairs]
    if sum(widths) != width:
        raise ValueError(
            f'Text init is not supported for this model: the text encoder(s) in {folder} '
            f'give {" + ".join(map(str, widths))} = {sum(widths)} features, the U-Net\'s '
            f'cross_attention_dim is {width}. Use the text encoder of the same Stable '
            'Diffusion model (model.backbone.text_encoder) or condition_init="random".')
    phrases = [keypoint_phrase(name) for name in names]
    obj = object_phrase(object_name)
    prefix = PROMPT_TEMPLATE.split('{keypoint}')[0].format(object=obj)
    prompts = [PROMPT_TEMPLATE.format(keypoint=p, object=obj) for p in phrases]
    states = []
    for enc_folder, tok_folder in pairs:
        tokenizer = CLIPTokenizer.from_pretrained(tok_folder, local_files_only=True)
        variant = weight_variant(enc_folder, WEIGHT_NAMES, 'text-encoder weights',
                                 TEXT_ENCODER_HELP)
        encoder = CLIPTextModel.from_pretrained(
            enc_folder, variant=variant, local_files_only=True,
            **{dtype_kwarg(): torch.float32}).eval()
        # as SD's pipelines: padded to the full context, no attention mask
        ids = tokenizer(prompts, padding='max_length', truncation=True,
                        max_length=tokenizer.model_max_length, return_tensors='pt').input_ids
        out = encoder(ids, output_hidden_states=len(pairs) > 1)
        hidden = out.hidden_states[-2] if len(pairs) > 1 else out.last_hidden_state
        spans = [_token_span(tokenizer, prefix, p, row.tolist())
                 for p, row in zip(phrases, ids)]
        states.append(torch.stack([h[span].mean(0) for h, span in zip(hidden, spans)]))
    return torch.cat(states, -1).float()


def contrast(conditions: Tensor, factor: float, shared: float = 1.0) -> Tensor:
    """(K, D) conditions with what tells the keypoints apart scaled by ``factor`` and
    what they share by ``shared``: ``shared * mean + factor * (c_k - mean)``, the mean
    over the K keypoints. Text conditions of one prompt template are nearly one vector
    (the shared prompt dominates the encoder's last hidden state; on the miniature
    SD's creatures the keypoints' pairwise cosine is 0.998): the shared part adds the
    same logit to every keypoint's softmax over the image tokens, so every keypoint
    starts from the same map."""
    mean = conditions.mean(0, keepdim=True)
    return shared * mean + factor * (conditions - mean)


def init_conditions(mode: str, num_keypoints: int, width: int, std: float = 1.0,
                    names: Optional[Union[Sequence[str], dict]] = None,
                    object_name: str = 'object', folder: Optional[str] = None,
                    text_contrast: float = 1.0, text_noise: float = 0.0,
                    text_shared: float = 1.0) -> Tensor:
    """Initial keypoint conditions (K, width): ``'random'``: normal with ``std``;
    ``'text'``: :func:`text_conditions` of ``names`` (a list, or MMPose metainfo),
    their differences scaled by ``text_contrast`` and their mean by ``text_shared``
    (:func:`contrast`), plus the random init scaled by ``text_noise`` (what sets the
    K conditions apart; the same draw as ``'random'`` at the same seed)."""
    if mode not in CONDITION_INITS:
        raise ValueError(f'condition_init must be one of {CONDITION_INITS}, got {mode!r}.')
    # drawn before the text encoder loads: the same draw as 'random' at the same seed
    noise = torch.randn(num_keypoints, width) * std if mode == 'random' or text_noise else 0
    if mode == 'random':
        return noise
    if names is None:
        raise ValueError('condition_init="text" needs keypoint_names: a list of names or '
                         'the dataset metainfo, e.g. dict(from_file=...).')
    names = keypoint_names_from(names)
    if len(names) != num_keypoints:
        raise ValueError(f'keypoint_names has {len(names)} names for num_keypoints='
                         f'{num_keypoints}: {names}')
    text = text_conditions(names, object_name, folder, width)
    return contrast(text, text_contrast, text_shared) + noise * text_noise
