# Table 1 "High noise (t = 601)" row (15.4 AP): the latent is noised at DDPM
# timestep 601 (SD-1.5 schedule) and the U-Net runs at that timestep.
_base_ = ['./genloc_sd15-lora16_8xb25-10e_ap10k-256x256.py']

model = dict(backbone=dict(noise_timestep=601))
