"""Condition-guided Keypoint Heatmap Extraction (CKHE), paper §3.2.

A diffusers attention processor for the U-Net's cross-attention layers. It returns
the layer's normal attention output unchanged (the U-Net keeps generating features as
it was trained to) and, next to it, records a correlation map between the keypoint
conditions (keys) and the image tokens (queries).
"""
from typing import TYPE_CHECKING

import torch

if TYPE_CHECKING:  # diffusers is imported where a model is built
    from diffusers.models.attention_processor import Attention

MAP_MODES = ('ckhe', 'cross_attention')


class CKHEAttnProcessor:
    """Cross-attention processor that records one correlation map per condition.

    For a layer with ``heads`` heads, queries ``q = to_q(z)`` (B, N, C) from the N
    image tokens and keys ``k = to_k(c)`` (B, K, C) from the K conditions, split per
    head into ``d = C / heads`` channels, the logits are ``k_h q_h^T / sqrt(d)``
    (B, heads, K, N), computed in fp32 even under autocast.

    - ``map_mode='ckhe'`` (eq. 7): softmax over the N image tokens. Each head's map
      is a distribution over tokens; heads are combined by their mean, so
      ``correlation_map`` (B, K, N) sums to 1 over N.
    - ``map_mode='cross_attention'`` (eq. 6, the baseline): softmax over the K
      conditions, as the U-Net's own attention; mean over heads. Each token's
      values sum to 1 over K (the head renormalises the maps over tokens).

    ``correlation_map`` is overwritten at every call (never appended), so gradient
    checkpointing, which runs the layer again in backward, is safe.
    """

    def __init__(self, map_mode: str = 'ckhe'):
        if map_mode not in MAP_MODES:
            raise ValueError(f'map_mode must be one of {MAP_MODES}, got {map_mode!r}')
        self.map_mode = map_mode
        self.correlation_map = None

    @staticmethod
    def check_layer(attn: 'Attention', name: str) -> None:
        """Raise if ``attn`` is not a plain cross-attention layer, as all up-block
        ``attn2`` layers of SD-1.x, SD-2.x and SDXL U-Nets are (SD-2.x/SDXL differ
        around them: linear proj_in/out, per-block head counts, SDXL's 2-10
        transformer layers per block)."""
        unsupported = [
            feature for feature in ('spatial_norm', 'group_norm', 'norm_q', 'norm_k')
            if getattr(attn, feature, None) is not None
        ]
        if not attn.is_cross_attention or unsupported or attn.residual_connection:
            raise ValueError(
                f'CKHE supports plain cross-attention layers (as in SD-1.x/2.x and '
                f'SDXL U-Nets); '
                f'{name} has is_cross_attention={attn.is_cross_attention}, '
                f'residual_connection={attn.residual_connection}, '
                f'unsupported features {unsupported}.')

    def __call__(self,
                 attn: 'Attention',
                 hidden_states: torch.Tensor,
                 encoder_hidden_states: torch.Tensor = None,
                 attention_mask: torch.Tensor = None,
                 **kwargs) -> torch.Tensor:
        """hidden_states (B, N, C_in), encoder_hidden_states (B, K, C_cond) ->
        (B, N, C_in); records ``self.correlation_map`` (B, K, N) in fp32."""
        if attention_mask is not None:
            raise ValueError('CKHE does not use attention masks.')
        batch_size = hidden_states.shape[0]
        if attn.norm_cross:
            encoder_hidden_states = attn.norm_encoder_hidden_states(encoder_hidden_states)
        query = attn.to_q(hidden_states)
        key = attn.to_k(encoder_hidden_states)
        value = attn.to_v(encoder_hidden_states)
        head_dim = key.shape[-1] // attn.heads
        # (B, heads, tokens, head_dim)
        query, key, value = (
            t.view(batch_size, -1, attn.heads, head_dim).transpose(1, 2)
            for t in (query, key, value))

        with torch.autocast(device_type=query.device.type, enabled=False):
            logits = key.float() @ query.float().transpose(-1, -2) * attn.scale
            dim = -1 if self.map_mode == 'ckhe' else -2
            self.correlation_map = logits.softmax(dim=dim).mean(dim=1)
            # the layer's own attention (softmax over the K conditions) from the same
            # logits: (B, heads, N, K) @ (B, heads, K, d), in fp32, then the value's dtype
            out = (logits.transpose(-1, -2).softmax(dim=-1) @ value.float()).to(value.dtype)
        out = out.transpose(1, 2).reshape(batch_size, -1, attn.heads * head_dim)
        out = attn.to_out[1](attn.to_out[0](out))
        return out / attn.rescale_output_factor
