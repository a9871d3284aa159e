"""Robust statistics for timing samples: summaries, noise flags, ratio intervals, verdicts.

Pure functions over plain sequences of durations (seconds), NumPy and SciPy only: ``samples``
for one set of samples, ``tails`` for its percentiles and how many calls each needs,
``verdicts`` for one value per fresh process.

Two levels of variation matter in a benchmark. Epochs of one process vary a little around that
process's level; fresh processes land at different levels (memory layout, frequency, thread
placement). Epochs of one process are therefore not independent samples of "the speed of this
code": comparing two single processes epoch by epoch finds "significant" differences between
identical runs. Comparisons and intervals that are meant to generalise beyond the processes at
hand use *rounds*: one value (the median epoch time) per fresh process.

Spread is judged by IQR/median, not by the coefficient of variation (std/mean): one 36 ms hiccup
among 2,000 epochs of 0.46 ms gives a CV of 164% while the epochs themselves are steady.
"""

from nnbench.stats.samples import (
                                  BIMODAL_MIN_FRACTION,
                                  BIMODAL_MIN_GAP,
                                  BIMODAL_MIN_GROUP,
                                  BIMODAL_MIN_SAMPLES,
                                  BIMODAL_SEPARATION,
                                  NOISY_REL_IQR,
                                  format_seconds,
                                  noise_warnings,
                                  percent_above,
                                  summarize,
                                  two_clusters,
)
from nnbench.stats.verdicts import (
                                  ALPHA,
                                  MIN_CHANGE,
                                  MIN_ROUNDS,
                                  N_BOOT,
                                  Rounds,
                                  clustered_ratio_interval,
                                  compare_rounds,
                                  min_p_value,
                                  ratio_interval,
                                  round_medians,
                                  rounds_disagree,
)

__all__ = [
    "ALPHA", "BIMODAL_MIN_FRACTION", "BIMODAL_MIN_GAP", "BIMODAL_MIN_GROUP",
    "BIMODAL_MIN_SAMPLES", "BIMODAL_SEPARATION", "MIN_CHANGE", "MIN_ROUNDS", "N_BOOT",
    "NOISY_REL_IQR", "Rounds", "clustered_ratio_interval", "compare_rounds", "format_seconds",
    "min_p_value",
    "noise_warnings", "percent_above", "ratio_interval", "round_medians", "rounds_disagree",
    "summarize",
    "two_clusters",
]
