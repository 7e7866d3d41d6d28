"""Timing primitives: device synchronisation, peak memory, timed steps."""
import contextlib
import gc
import logging
import resource
import statistics
import time

import torch
from mmengine.logging import MMLogger


def sync(device: torch.device) -> None:
    """Wait for the device's queued work (CUDA); a no-op on the CPU."""
    if device.type == 'cuda':
        torch.cuda.synchronize(device)


def max_rss_mb() -> float:
    """Peak resident memory of this process in MiB (process-wide: only growth
    beyond earlier peaks shows)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


@contextlib.contextmanager
def quiet_logger(level: int = logging.ERROR):
    """MMEngine's current logger at ``level`` inside the block."""
    logger = MMLogger.get_current_instance()
    old = logger.level
    logger.setLevel(level)
    try:
        yield
    finally:
        logger.setLevel(old)


def time_steps(step, device, iters, warmup, images_per_step):
    """Run ``warmup`` + ``iters`` calls of ``step()``; return (result, the last
    call's output). The result: images/s over the timed calls, ms per call, the
    first warm-up call's s, peak memory in MiB (CUDA) or peak RSS and its growth."""
    gc.collect()
    if device.type == 'cuda':
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(device)
    rss0 = max_rss_mb()
    mem0 = torch.cuda.memory_allocated(device) if device.type == 'cuda' else None
    first_iter_s = None
    for i in range(warmup):
        start = time.perf_counter()
        step()
        sync(device)
        if i == 0:
            first_iter_s = time.perf_counter() - start
    times = []
    last = None
    sync(device)
    t0 = time.perf_counter()
    for _ in range(iters):
        start = time.perf_counter()
        last = step()
        sync(device)
        times.append(time.perf_counter() - start)
    total = time.perf_counter() - t0
    result = dict(
        iters=iters, warmup=warmup, batch_size=images_per_step,
        images_per_s=iters * images_per_step / total if total > 0 else None,
        time_s=total,
        iter_ms_mean=1e3 * statistics.fmean(times) if times else None,
        iter_ms_median=1e3 * statistics.median(times) if times else None,
        iter_ms_min=1e3 * min(times) if times else None,
        first_iter_s=first_iter_s)
    if device.type == 'cuda':
        result.update(
            peak_mem_mb=torch.cuda.max_memory_allocated(device) / 2**20,
            peak_mem_reserved_mb=torch.cuda.max_memory_reserved(device) / 2**20,
            start_mem_mb=mem0 / 2**20,
            peak_rss_mb=max_rss_mb(), peak_rss_delta_mb=None)
    else:
        rss = max_rss_mb()
        result.update(peak_mem_mb=None, peak_mem_reserved_mb=None, start_mem_mb=None,
                      peak_rss_mb=rss, peak_rss_delta_mb=rss - rss0)
    return result, last
