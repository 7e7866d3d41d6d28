"""Train a miniature Stable Diffusion from scratch on the creature world, on the CPU.

The library behind ``tools/misc/train_mini_sd.py``. Three stages, each resumable,
all from one seed, under ``work_dir``:

1. **data**: ``num_images`` creature images (:mod:`genloc_mmpose.synthetic.creatures`,
   split ``'train'``) and their captions, cached as ``world.npz``; a CLIP BPE
   tokenizer whose vocabulary is learnt from those captions (plus the creature
   keypoint names), so every word of the world is one token.
2. **vae**: an ``AutoencoderKL`` (SD's, at small width and /4 instead of /8) trained
   as an autoencoder with SD's KL regularisation (L1 reconstruction + a small KL
   term); then SD's ``scaling_factor`` = 1 / std of the latents.
3. **unet**: a ``UNet2DConditionModel`` with SD-1.5's block structure (three
   cross-attention down-blocks and up-blocks around a plain one, two layers per
   block) at small width, and a ``CLIPTextModel`` trained jointly from scratch,
   with SD's DDPM epsilon objective and noise schedule, 10% caption dropout
   (classifier-free guidance), min-SNR loss weighting and an EMA of the weights
   (``diffusers.training_utils``).

``init`` (a folder this tool wrote, e.g. ``demo/mini-sd``) continues a finished
model without its work dir: its VAE is stage 2, its U-Net and text encoder start
stage 3 (a new optimiser and schedule); its recipe is recorded in the new
``training.json`` under ``init_training``.

The result is SD-1.5's diffusers layout (``model_index.json``, ``unet/``, ``vae/``,
``text_encoder/``, ``tokenizer/``, ``scheduler/``; fp16 safetensors), written by
``StableDiffusionPipeline.save_pretrained``: loadable by ``from_pretrained`` and by
``GenLocBackbone(pretrained=..., condition_init='text')`` like real SD.
"""
import json
import math
import os
import os.path as osp
import shutil
import time
from multiprocessing import get_context
from typing import List, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from mmengine.logging import MMLogger
from mmengine.utils import ProgressBar

from ..fileio import atomic_write
from ..synthetic import creatures

# SD-1.5's noise schedule (its scheduler/scheduler_config.json)
SD_SCHEDULE = dict(num_train_timesteps=1000, beta_start=0.00085, beta_end=0.012,
                   beta_schedule='scaled_linear', clip_sample=False, steps_offset=1)
DEFAULTS = dict(
    seed=0, num_images=40000, size=64,
    # stage 2: VAE /4 (64x64 image -> 16x16x4 latent)
    vae=dict(block_out_channels=(16, 32, 64), layers_per_block=1, norm_num_groups=8),
    vae_steps=700, vae_batch=32, vae_lr=1e-3, kl_weight=1e-6,
    # stage 3: text encoder and U-Net
    text=dict(hidden_size=128, intermediate_size=512, num_hidden_layers=4,
              num_attention_heads=4, max_position_embeddings=48),
    # SD-1.5's "attention_head_dim" is its number of heads
    unet=dict(block_out_channels=(32, 64, 96, 96), layers_per_block=2,
              attention_head_dim=2, norm_num_groups=16),
    unet_steps=2000, unet_batch=64, unet_lr=1e-3, warmup=100, caption_dropout=0.1,
    snr_gamma=5.0, ema_decay=0.999, save_every=250, log_every=50,
    # stop after this many steps of the unet_steps schedule, or after this many
    # minutes of U-Net training (None: all of it); a later call continues
    unet_stop=None, unet_minutes=None,
    # a folder this tool wrote to continue from (module docstring), or None
    init=None)
# the settings each cached stage was made with (and those of the stages before it):
# resuming with other values would silently mix runs, so it is refused
STAGES = (('world.npz', ('seed', 'num_images', 'size')),
          ('vae', ('vae', 'vae_steps', 'vae_batch', 'vae_lr', 'kl_weight', 'init')),
          ('unet_state.pt', ('text', 'unet', 'unet_lr', 'warmup', 'caption_dropout',
                             'snr_gamma', 'ema_decay')))
OBJECT_NAME = creatures.CATEGORY
TEXT_FILES = ('vocab.json', 'merges.txt')


def unet_config(cfg: dict) -> dict:
    """SD-1.5's U-Net structure at ``cfg['unet']`` widths."""
    return dict(
        sample_size=cfg['size'] // 2**(len(cfg['vae']['block_out_channels']) - 1),
        in_channels=4, out_channels=4,
        down_block_types=('CrossAttnDownBlock2D', ) * 3 + ('DownBlock2D', ),
        up_block_types=('UpBlock2D', ) + ('CrossAttnUpBlock2D', ) * 3,
        cross_attention_dim=cfg['text']['hidden_size'], **cfg['unet'])


def vae_config(cfg: dict) -> dict:
    num = len(cfg['vae']['block_out_channels'])
    return dict(in_channels=3, out_channels=3, latent_channels=4,
                down_block_types=('DownEncoderBlock2D', ) * num,
                up_block_types=('UpDecoderBlock2D', ) * num, sample_size=cfg['size'],
                **cfg['vae'])


def _worker(args):
    seed, split, start, stop, size = args
    items = [creatures.make_creature(seed, split, i, size) for i in range(start, stop)]
    return np.stack([it['image'] for it in items]), [it['caption'] for it in items]


def make_world(seed: int, split: str, num: int, size: int, workers: int = 0):
    """Images (num, size, size, 3) uint8 RGB and captions of ``split``, made in
    ``workers`` processes (0: all cores)."""
    workers = workers or os.cpu_count() or 1
    chunk = 500
    jobs = [(seed, split, i, min(i + chunk, num), size) for i in range(0, num, chunk)]
    if workers == 1 or len(jobs) == 1:
        parts = [_worker(job) for job in jobs]
    else:
        with get_context('fork').Pool(workers) as pool:
            parts = pool.map(_worker, jobs)
    return (np.concatenate([p[0] for p in parts]), [c for p in parts for c in p[1]])


def tokenizer_corpus(captions: Sequence[str]) -> List[str]:
    """The tokenizer's training text: the captions and the creature keypoint names
    in the prompt that ``condition_init='text'`` builds."""
    from ..keypoint_names import keypoint_phrase
    from ..models.text_conditions import PROMPT_TEMPLATE
    return list(captions) + [
        PROMPT_TEMPLATE.format(object=OBJECT_NAME, keypoint=keypoint_phrase(name))
        for name in creatures.KEYPOINTS]


def build_tokenizer(corpus: Sequence[str], folder: str, max_length: int):
    """A CLIP BPE tokenizer (vocab.json + merges.txt) learnt from ``corpus`` with
    CLIP's normalisation and pre-tokenisation, large enough that every word of the
    corpus is one token; saved to ``folder`` and returned as ``CLIPTokenizer``.
    The learnt token ids are not reproducible from call to call (the BPE trainer
    breaks ties in hash order): a text encoder needs the very tokenizer it was
    trained with, which is why :class:`Trainer` builds it once per work dir."""
    from tokenizers import Regex, Tokenizer, models, normalizers, pre_tokenizers, trainers
    os.makedirs(folder, exist_ok=True)
    # CLIPTokenizer's own pattern (transformers' tokenization_clip)
    pattern = (r"<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|"
               r"[\p{N}]|[^\s\p{L}\p{N}]+")
    bpe = Tokenizer(models.BPE(end_of_word_suffix='</w>'))
    bpe.normalizer = normalizers.Sequence([normalizers.NFC(), normalizers.Lowercase()])
    bpe.pre_tokenizer = pre_tokenizers.Split(Regex(pattern), behavior='removed',
                                             invert=True)
    alphabet = list('abcdefghijklmnopqrstuvwxyz0123456789,.-\'')
    bpe.train_from_iterator(corpus, trainers.BpeTrainer(
        vocab_size=100000, special_tokens=['<|startoftext|>', '<|endoftext|>'],
        end_of_word_suffix='</w>', initial_alphabet=alphabet, show_progress=False))
    bpe.model.save(folder)
    with open(osp.join(folder, 'tokenizer_config.json'), 'w') as f:
        json.dump(dict(model_max_length=max_length, bos_token='<|startoftext|>',
                       eos_token='<|endoftext|>', pad_token='<|endoftext|>',
                       unk_token='<|endoftext|>', tokenizer_class='CLIPTokenizer'), f)
    return load_tokenizer(folder, corpus)


def load_tokenizer(folder: str, corpus: Sequence[str]):
    """The ``CLIPTokenizer`` in ``folder``; RuntimeError unless every word of
    ``corpus`` is one token of it."""
    from transformers import CLIPTokenizer
    tokenizer = CLIPTokenizer.from_pretrained(folder)
    words = {w for text in corpus for w in text.lower().replace(',', ' ').split()}
    split = sorted(w for w in words if "'" not in w and '-' not in w
                   and len(tokenizer(w, add_special_tokens=False).input_ids) != 1)
    if split:
        raise RuntimeError(f'The tokenizer in {folder} splits words of the corpus: '
                           f'{split[:10]}')
    return tokenizer


class Trainer:
    """The three stages (module docstring). ``cfg``: :data:`DEFAULTS` with
    overrides; ``work_dir``: cache, states and logs; ``out``: the pipeline folder;
    ``device``: where the models train (``'cuda'`` on a GPU machine: the same recipe)."""

    def __init__(self, cfg: dict, work_dir: str, out: str, threads: int = 0,
                 device: str = 'cpu'):
        self.cfg = {**DEFAULTS, **cfg}
        self.work_dir, self.out = work_dir, out
        self.device = torch.device(device)
        os.makedirs(work_dir, exist_ok=True)
        if threads:
            torch.set_num_threads(threads)
        stamp = time.strftime('%Y%m%d_%H%M%S')
        self.logger = MMLogger.get_instance(
            f'mini_sd_{stamp}', logger_name='mini_sd',
            log_file=osp.join(work_dir, f'train_{stamp}.log'))
        self._check_caches()
        self.init_training = self._check_init()
        with open(osp.join(work_dir, 'config.json'), 'w') as f:
            json.dump(self.cfg, f, indent=1)

    def _check_caches(self) -> None:
        """Refuse to resume from caches made with other settings (:data:`STAGES`)."""
        path = osp.join(self.work_dir, 'config.json')
        if not osp.exists(path):
            return
        with open(path) as f:
            old = {**DEFAULTS, **json.load(f)}
        new = json.loads(json.dumps(self.cfg))  # tuples as lists, as stored
        keys = []
        for cache, stage_keys in STAGES:
            keys += stage_keys
            if not osp.exists(osp.join(self.work_dir, cache)):
                break
            for key in keys:
                if old[key] != new[key]:
                    raise ValueError(
                        f'{osp.join(self.work_dir, cache)} was made with {key}={old[key]!r}, '
                        f'not {new[key]!r}: train with the new setting in another '
                        f'--work-dir (or delete {cache} and the caches after it).')

    def _check_init(self):
        """The recipe of ``init`` (None without one); refused unless its world and
        architecture are this run's."""
        init = self.cfg['init']
        if init is None:
            return None
        path = osp.join(init, 'training.json')
        if not osp.exists(path):
            raise FileNotFoundError(f'init={init!r}: no {path}; expected a folder written '
                                    'by tools/misc/train_mini_sd.py (e.g. demo/mini-sd).')
        with open(path) as f:
            old = json.load(f)
        new = json.loads(json.dumps(self.cfg))
        for key in ('seed', 'num_images', 'size', 'vae', 'text', 'unet'):
            if old.get(key) != new[key]:
                raise ValueError(f'init={init!r} was trained with {key}={old.get(key)!r}, '
                                 f'not {new[key]!r}: continue it with its own settings.')
        return old

    def log(self, msg: str) -> None:
        self.logger.info(msg)

    # --------------------------------------------------------------- stage 1
    def data(self):
        cfg, path = self.cfg, osp.join(self.work_dir, 'world.npz')
        if not osp.exists(path):
            start = time.time()
            images, captions = make_world(cfg['seed'], 'train', cfg['num_images'],
                                          cfg['size'])
            atomic_write(path, lambda f: np.savez(f, images=images,
                                                  captions=np.array(captions)), 'wb')
            self.log(f'world: {len(images)} images in {time.time() - start:.0f} s')
        data = np.load(path)
        self.images, self.captions = data['images'], [str(c) for c in data['captions']]
        # the tokenizer of the work dir (resuming), else the init's, else a new one
        tok_dir, corpus = osp.join(self.work_dir, 'tokenizer'), tokenizer_corpus(self.captions)
        if not osp.exists(osp.join(tok_dir, 'vocab.json')) and cfg['init']:
            shutil.copytree(osp.join(cfg['init'], 'tokenizer'), tok_dir)
        if osp.exists(osp.join(tok_dir, 'vocab.json')):
            self.tokenizer = load_tokenizer(tok_dir, corpus)
        else:
            self.tokenizer = build_tokenizer(corpus, tok_dir,
                                             cfg['text']['max_position_embeddings'])
        lengths = [len(ids) for ids in self.tokenizer(self.captions).input_ids]
        if max(lengths) > self.tokenizer.model_max_length:
            raise RuntimeError(f'A caption has {max(lengths)} tokens, more than the '
                               f'context ({self.tokenizer.model_max_length}).')
        self.log(f'tokenizer: {len(self.tokenizer)} tokens, captions of '
                 f'{np.mean(lengths):.1f} tokens on average (max {max(lengths)})')

    def _pixels(self, index) -> torch.Tensor:
        x = torch.from_numpy(self.images[index]).to(self.device)
        return x.permute(0, 3, 1, 2).float() / 127.5 - 1

    # --------------------------------------------------------------- stage 2
    def train_vae(self):
        from diffusers import AutoencoderKL
        cfg = self.cfg
        folder = osp.join(self.work_dir, 'vae')
        if cfg['init'] and not osp.exists(osp.join(folder, 'config.json')):
            AutoencoderKL.from_pretrained(osp.join(cfg['init'], 'vae')).float().save_pretrained(
                folder)
            self.log(f"vae: from {cfg['init']}")
        if osp.exists(osp.join(folder, 'config.json')):
            self.vae = AutoencoderKL.from_pretrained(folder).to(self.device)
            return
        torch.manual_seed(cfg['seed'])
        vae = AutoencoderKL(**vae_config(cfg)).to(self.device)
        opt = torch.optim.AdamW(vae.parameters(), lr=cfg['vae_lr'], weight_decay=0)
        sched = torch.optim.lr_scheduler.OneCycleLR(opt, cfg['vae_lr'], cfg['vae_steps'],
                                                    pct_start=0.05)
        step = self._resume('vae_state.pt', dict(vae=vae, opt=opt, sched=sched))
        gen = np.random.default_rng([cfg['seed'], 1, step])
        bar = ProgressBar(cfg['vae_steps'] - step)
        window = []
        while step < cfg['vae_steps']:
            x = self._pixels(np.sort(gen.choice(len(self.images), cfg['vae_batch'],
                                                replace=False)))
            posterior = vae.encode(x).latent_dist
            recon = vae.decode(posterior.sample()).sample
            l1 = (recon - x).abs().mean()
            # LDM's weighting: summed L1 + kl_weight * summed KL, here per pixel
            kl = posterior.kl().mean() / x[0].numel()
            loss = l1 + cfg['kl_weight'] * kl
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            step += 1
            bar.update()
            window.append((l1.item(), kl.item()))
            if step % cfg['log_every'] == 0:
                l1m, klm = np.mean(window, 0)
                window.clear()
                self.log(f'vae step {step}/{cfg["vae_steps"]}: l1 {l1m:.4f} kl/px {klm:.4f} '
                         f'lr {sched.get_last_lr()[0]:.2e}')
            if step % cfg['save_every'] == 0 or step == cfg['vae_steps']:
                self._save_state('vae_state.pt', step, dict(vae=vae, opt=opt, sched=sched))
        vae.eval()
        # SD's scaling factor: unit variance latents (SD-1.5 measured 0.18215)
        with torch.no_grad():
            index = np.arange(0, len(self.images), max(1, len(self.images) // 2000))
            latents = torch.cat([vae.encode(self._pixels(index[i:i + 256])).latent_dist.sample()
                                 for i in range(0, len(index), 256)])
        vae.register_to_config(scaling_factor=float(1 / latents.std()))
        self.log(f'vae: scaling_factor {vae.config.scaling_factor:.4f}')
        vae.to('cpu').save_pretrained(folder)
        self.vae = vae.to(self.device)

    def encode_all(self) -> None:
        """Latent distributions (mean, std) of every image, cached."""
        path = osp.join(self.work_dir, 'latents.npz')
        if not osp.exists(path):
            means, stds = [], []
            with torch.no_grad():
                for i in range(0, len(self.images), 256):
                    dist = self.vae.encode(self._pixels(np.arange(i, min(
                        i + 256, len(self.images))))).latent_dist
                    means.append(dist.mean.half().cpu())
                    stds.append(dist.std.half().cpu())
            atomic_write(path, lambda f: np.savez(f, mean=torch.cat(means).numpy(),
                                                  std=torch.cat(stds).numpy()), 'wb')
        data = np.load(path)
        self.lat_mean, self.lat_std = data['mean'], data['std']

    # --------------------------------------------------------------- stage 3
    def build_unet(self):
        from diffusers import UNet2DConditionModel
        from transformers import CLIPTextConfig, CLIPTextModel
        cfg = self.cfg
        torch.manual_seed(cfg['seed'] + 1)
        text_encoder = CLIPTextModel(CLIPTextConfig(
            vocab_size=len(self.tokenizer), bos_token_id=self.tokenizer.bos_token_id,
            eos_token_id=self.tokenizer.eos_token_id,
            pad_token_id=self.tokenizer.pad_token_id, **cfg['text']))
        unet = UNet2DConditionModel(**unet_config(cfg))
        # the init's weights (same architecture: _check_init), unless a state resumes
        if cfg['init'] and not osp.exists(osp.join(self.work_dir, 'unet_state.pt')):
            text_encoder.load_state_dict(CLIPTextModel.from_pretrained(
                osp.join(cfg['init'], 'text_encoder')).float().state_dict())
            unet.load_state_dict(UNet2DConditionModel.from_pretrained(
                osp.join(cfg['init'], 'unet')).float().state_dict())
        return text_encoder.to(self.device), unet.to(self.device)

    def train_unet(self):
        from diffusers import DDPMScheduler
        from diffusers.training_utils import EMAModel, compute_snr
        cfg = self.cfg
        text_encoder, unet = self.build_unet()
        params = list(unet.parameters()) + list(text_encoder.parameters())
        opt = torch.optim.AdamW(params, lr=cfg['unet_lr'], weight_decay=1e-2)
        total, warmup = cfg['unet_steps'], cfg['warmup']
        stop = min(cfg['unet_stop'] or total, total)
        # linear warm-up, then cosine to 10% of the rate
        sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(1, (s + 1) / warmup) * (
            0.1 + 0.45 * (1 + math.cos(math.pi * min(1.0, s / total)))))
        ema = EMAModel(params, decay=cfg['ema_decay'], use_ema_warmup=True, power=2 / 3,
                       foreach=True)
        noise_sched = DDPMScheduler(**SD_SCHEDULE)
        step = self._resume('unet_state.pt', dict(unet=unet, text=text_encoder, opt=opt,
                                                  sched=sched, ema=ema))
        ema.to(self.device)
        n_params = sum(p.numel() for p in unet.parameters()) / 1e6
        self.log(f'unet {n_params:.2f}M parameters, text encoder '
                 f'{sum(p.numel() for p in text_encoder.parameters()) / 1e6:.2f}M; '
                 f'step {step}/{total}' + (f', stopping at {stop}' if stop < total else ''))
        ids_all = self.tokenizer(self.captions, padding='max_length',
                                 max_length=self.tokenizer.model_max_length,
                                 return_tensors='pt').input_ids.to(self.device)
        empty = self.tokenizer([''], padding='max_length',
                               max_length=self.tokenizer.model_max_length,
                               return_tensors='pt').input_ids.to(self.device)
        lat_mean = torch.from_numpy(self.lat_mean).to(self.device)
        lat_std = torch.from_numpy(self.lat_std).to(self.device)
        scale = self.vae.config.scaling_factor
        bar = ProgressBar(max(stop - step, 0))
        window, start = [], time.time()
        deadline = start + 60 * (math.inf if cfg['unet_minutes'] is None
                                 else cfg['unet_minutes'])
        unet.train()
        text_encoder.train()
        while step < stop:
            gen = np.random.default_rng([cfg['seed'], 2, step])
            torch.manual_seed(int(gen.integers(2**31)))
            index = np.sort(gen.choice(len(self.images), cfg['unet_batch'], replace=False))
            mean, std = lat_mean[index].float(), lat_std[index].float()
            latents = (mean + std * torch.randn_like(mean)) * scale
            ids = ids_all[index].clone()
            drop = torch.from_numpy(gen.random(len(index)) < cfg['caption_dropout']).to(
                self.device)
            ids[drop] = empty
            noise = torch.randn_like(latents)
            timesteps = torch.randint(0, noise_sched.config.num_train_timesteps,
                                      (len(index), ), device=self.device)
            noisy = noise_sched.add_noise(latents, noise, timesteps)
            states = text_encoder(ids).last_hidden_state
            pred = unet(noisy, timesteps, states).sample
            snr = compute_snr(noise_sched, timesteps)
            weight = torch.clamp(snr, max=cfg['snr_gamma']) / snr  # min-SNR, epsilon
            loss = (F.mse_loss(pred, noise, reduction='none').mean((1, 2, 3)) * weight).mean()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            opt.step()
            sched.step()
            ema.step(params)
            step += 1
            bar.update()
            window.append(loss.item())
            if step % cfg['log_every'] == 0:
                rate = (time.time() - start) / len(window)
                self.log(f'unet step {step}/{total}: loss {np.mean(window):.4f} '
                         f'lr {sched.get_last_lr()[0]:.2e} {rate:.2f} s/step, '
                         f'eta {(stop - step) * rate / 60:.0f} min')
                window, start = [], time.time()
            out_of_time = time.time() >= deadline
            if step % cfg['save_every'] == 0 or step == stop or out_of_time:
                self._save_state('unet_state.pt', step, dict(
                    unet=unet, text=text_encoder, opt=opt, sched=sched, ema=ema))
            if out_of_time:
                self.log(f'unet: {cfg["unet_minutes"]} min budget spent at step {step}')
                break
        ema.copy_to(params)
        self.text_encoder, self.unet = text_encoder.eval(), unet.eval()
        self.unet_step = step

    # --------------------------------------------------------------- output
    def export(self) -> str:
        """Write SD-1.5's diffusers layout to ``self.out`` in fp16 (atomically)."""
        from diffusers import PNDMScheduler, StableDiffusionPipeline
        pipe = StableDiffusionPipeline(
            vae=self.vae, text_encoder=self.text_encoder, tokenizer=self.tokenizer,
            unet=self.unet,
            scheduler=PNDMScheduler(**{k: v for k, v in SD_SCHEDULE.items() if k != 'clip_sample'},
                                    set_alpha_to_one=False, skip_prk_steps=True),
            safety_checker=None, feature_extractor=None, requires_safety_checker=False)
        pipe.to('cpu', torch.float16)
        tmp = self.out.rstrip('/') + '.tmp'
        pipe.save_pretrained(tmp, safe_serialization=True)
        for name in TEXT_FILES:  # SD-1.5's slow-tokenizer files, for any transformers
            shutil.copy(osp.join(self.work_dir, 'tokenizer', name), osp.join(tmp, 'tokenizer'))
        with open(osp.join(tmp, 'training.json'), 'w') as f:
            record = dict(self.cfg, trained_unet_steps=self.unet_step)
            if self.init_training is not None:
                record['init_training'] = self.init_training
            json.dump(record, f, indent=1)
        if osp.exists(self.out):
            shutil.rmtree(self.out)
        os.replace(tmp, self.out)
        self.log(f'wrote {self.out}')
        return self.out

    def run(self) -> str:
        self.data()
        self.train_vae()
        self.encode_all()
        self.train_unet()
        return self.export()

    # --------------------------------------------------------------- states
    def _resume(self, name: str, objects: dict) -> int:
        path = osp.join(self.work_dir, name)
        if not osp.exists(path):
            return 0
        state = torch.load(path, map_location='cpu', weights_only=False)
        for key, obj in objects.items():
            obj.load_state_dict(state[key])
        self.log(f'resumed {name} at step {state["step"]}')
        return state['step']

    def _save_state(self, name: str, step: int, objects: dict) -> None:
        state = {key: obj.state_dict() for key, obj in objects.items()}
        state['step'] = step
        atomic_write(osp.join(self.work_dir, name), lambda f: torch.save(state, f), 'wb')


def load_pipeline(folder: str, dtype=torch.float32):
    """The shipped miniature SD as a ``StableDiffusionPipeline`` (offline)."""
    from diffusers import StableDiffusionPipeline
    return StableDiffusionPipeline.from_pretrained(folder, torch_dtype=dtype,
                                                   local_files_only=True)


def sample_grid(folder: str, captions: Sequence[str], out_file: str, seed: int = 0,
                steps: int = 50, guidance: float = 4.0, per_caption: int = 4,
                scale: int = 2) -> str:
    """Images sampled from ``captions`` (one row each, ``per_caption`` seeds), saved
    as a PNG grid."""
    import cv2
    pipe = load_pipeline(folder)
    pipe.set_progress_bar_config(disable=True)
    rows = []
    for i, text in enumerate(captions):
        gen = torch.Generator().manual_seed(seed + i)
        images = pipe([text] * per_caption, num_inference_steps=steps,
                      guidance_scale=guidance, generator=gen, output_type='np').images
        rows.append(np.concatenate(list((images * 255).round().astype(np.uint8)), 1))
    grid = np.concatenate(rows, 0)
    grid = cv2.resize(grid, None, fx=scale, fy=scale, interpolation=cv2.INTER_NEAREST)
    os.makedirs(osp.dirname(osp.abspath(out_file)), exist_ok=True)
    cv2.imwrite(out_file, grid[..., ::-1])
    return out_file
