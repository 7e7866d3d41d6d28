# GenLoc on AP-10K with Stable Diffusion 2.1-base instead of SD-1.5 (SD-Turbo weights
# have the same architecture): the recipe of the SD-1.5 config; the conditions take
# the U-Net's cross-attention width, 1024. Weights (README "Weights you can use"): a
# diffusers folder of stabilityai/stable-diffusion-2-1-base (unet/ and vae/, fp16
# variant files are fine) or one original-format file, e.g.
# --cfg-options model.backbone.pretrained=v2-1_512-ema-pruned.safetensors
_base_ = ['./genloc_sd15-lora16_8xb25-100e_ap10k-256x256.py']

sd_weights = 'checkpoints/stable-diffusion-2-1-base'
model = dict(
    backbone=dict(
        pretrained=sd_weights,
        # the SD-2.1 U-Net (linear projections, per-block heads, 1024-d text) for
        # pretrained=None and tools/benchmark.py --random-weights (a json shipped in
        # genloc_mmpose/configs); the VAE is SD-1.x's
        unet_cfg='sd21_unet.json'))
