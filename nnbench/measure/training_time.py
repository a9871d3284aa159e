"""The training-time figures of one job, from the clocks of its timed runs."""

from __future__ import annotations

from nnbench import stats
from nnbench.measure import flops
from nnbench.measure.figures import Timing, Training


def timing_figures(training: Training, warmup_epochs: int, n_train: int,
                   layer_sizes: tuple[int, ...], peak: dict | None,
                   min_samples: int = 0, top_up_budget_s: float = 0.0) -> Timing:
    """Median and spread of the timed epochs (warm-up epochs left out), what they imply
    (throughput, FLOP/s, MFU), and warnings about their noise."""
    per_repeat = [times[warmup_epochs:] for times in training.epoch_times_s]
    pooled = [t for times in per_repeat for t in times]
    summary = stats.summarize(pooled)
    median = summary["median"]
    epoch_flops = flops.train_flops_per_epoch(layer_sizes, n_train)
    achieved = epoch_flops / median / 1e9 if median else None
    mfu = achieved / peak["gflops"] if peak and achieved else None
    warnings = []
    if mfu is not None and mfu > 1:
        warnings.append(
            f"achieved {achieved:.0f} GFLOP/s exceeds the calibrated matmul peak "
            f"({peak['gflops']:.0f}): the peak was measured on a slower moment of this host; "
            f"recalibrate with scripts/calibrate_peak.py")
    # IQR/median and bimodality, not the CV: one hiccup among steady epochs is not noise
    warnings += stats.noise_warnings(pooled, "training epochs")
    if training.divergence is None and 0 < summary["n"] < min_samples:
        warnings.append(
            f"time per epoch rests on {summary['n']} timed epochs (fewer than "
            f"bench.min_samples={min_samples}: top-up repeats stopped at their "
            f"{top_up_budget_s:g} s budget); its median and spread are rough")
    return Timing(
        train_time_per_epoch_s=median,
        train_time_per_epoch_stats_s=summary,
        train_time_per_epoch_repeat_medians_s=[
            stats.summarize(t)["median"] for t in per_repeat if t],
        train_time_total_s=float(sum(training.epoch_times_s[0])),
        train_throughput_samples_per_s=n_train / median if median else None,
        train_flops_per_epoch=epoch_flops,
        train_flops_per_sample=flops.train_flops_per_sample(layer_sizes),
        inference_flops_per_sample=flops.inference_flops_per_sample(layer_sizes),
        achieved_gflops=achieved,
        matmul_peak_gflops=peak["gflops"] if peak else None,
        mfu=mfu,
        samples={"train_time_per_epoch_s": summary["n"]},
        warnings=warnings,
    )
