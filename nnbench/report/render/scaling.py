"""scaling.png: time per epoch against FLOPs per epoch, log-log, a line per framework, device
and precision within each family of configurations, with this host's matmul peak as the
limit."""

from __future__ import annotations

import textwrap
from pathlib import Path

import numpy as np
import pandas as pd

from nnbench.report.render.plots import color, plt, save, seconds_axis
from nnbench.report.render.tables import config_columns
from nnbench.results import pooling
from nnbench.results.labels import IDENTITY, key_values

# What a scaling line keeps fixed: a line joins the sizes of one family (an experiment's
# dataset, batch and variant), never a two-moons point to a Fashion-MNIST one.
FAMILY = ["experiment_name", "dataset", "batch_size", "variant"]
MARKERS = "osD^vP*Xh<>"


def scaling(frame: pd.DataFrame, path: Path) -> Path | None:
    needed = {"train_flops_per_epoch", "train_time_per_epoch_s"}
    ok = frame[frame["status"] == "ok"] if not frame.empty else frame
    if ok.empty or not needed <= set(ok.columns):
        return None
    ok = ok.dropna(subset=sorted(needed))  # records that did not count their FLOPs
    if ok.empty:
        return None
    fig, ax = plt.subplots(figsize=(11, 6))
    ok, keys = pooling.separate(ok, ["experiment_name", *config_columns(ok)])
    versions = [k for k in IDENTITY if k in keys]  # a line per version: never one median
    family = [k for k in FAMILY if k in ok.columns]
    ok = ok.assign(_family=pooling.row_ids(ok, family))  # a missing batch (full) compares
    families = list(dict.fromkeys(ok.sort_values("_family")["_family"]))
    several = len(families) > 1
    longest = 0
    peaks: dict[tuple[str, str], list[float]] = {}
    for (framework, device, precision, *_, which), runs in ok.groupby(
            ["framework", "device", "precision", *versions, "_family"], dropna=False):
        pts = runs.groupby("train_flops_per_epoch")["train_time_per_epoch_s"].median()
        longest = max(longest, len(pts))
        style = "-" if precision == "float32" else "--"
        line = color(framework, device)
        name = " ".join([framework, device, precision,
                         key_values(runs.iloc[0].to_dict(), versions)]).strip()
        marker = MARKERS[families.index(which) % len(MARKERS)] if several else "o"
        first = (families.index(which) == 0) or not several
        ax.plot(pts.index, pts.values, style, marker=marker, color=line,
                label=name if first else None)
        peak = runs["matmul_peak_gflops"].dropna() if "matmul_peak_gflops" in runs else []
        if len(peak):
            peaks.setdefault((name, line), []).extend(float(p) for p in peak)
    # the limit of each framework across every family's sizes, drawn once
    span = np.geomspace(ok["train_flops_per_epoch"].min() / 2,
                        ok["train_flops_per_epoch"].max() * 2, 20)
    for (name, line), values in peaks.items():
        gflops = float(np.median(values))
        ax.plot(span, span / (gflops * 1e9), ":", color=line, alpha=0.7,
                label=f"limit: {name} matmul peak {gflops:.0f} GFLOP/s")
    if several:  # which marker is which family: in the legend, in gray
        for i, which in enumerate(families[:len(MARKERS)]):
            first = ok[ok["_family"] == which].iloc[0]
            ax.plot([], [], MARKERS[i], color="gray",
                    label=_family_name(family, tuple(first[k] for k in family)))
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("FLOPs per training epoch (matmuls)")
    ax.set_ylabel("time per epoch (s)")
    title = "Scaling: time per epoch against work, with this host's matmul limit"
    if longest < 2:  # nothing to join: say so rather than draw a lone dot as a line
        title += "\n(one size per family: no line; sweep the architecture to see one)"
    ax.set_title(title)
    ax.grid(alpha=0.3, which="both")
    seconds_axis(ax)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.02, 1), borderaxespad=0)
    return save(fig, path, 110)


def _family_name(keys: list[str], values: tuple) -> str:
    """``case_study_moons: moons, full batch``: a family in the legend."""
    row = dict(zip(keys, values, strict=True))
    batch = row.get("batch_size")
    full = batch is None or (isinstance(batch, float) and np.isnan(batch))
    words = [str(row.get("dataset")), "full batch" if full else key_values(row, ["batch_size"])]
    if row.get("variant"):
        words.append(str(row["variant"]))
    return textwrap.shorten(f"{row.get('experiment_name')}: {', '.join(words)}", 45)
