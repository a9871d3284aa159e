"""Correctness first: your network against torch autograd and finite differences, in float64,
and where it first goes wrong.

From the job's start (the parameters every framework starts from, in your layout) on the job's
first batch: your outputs against torch's, then every gradient, in the order backpropagation
computes them (the last layer's first), against torch autograd and against central finite
differences of the loss of your own forward. The first gradient that differs is named with
its mistake (``findings``); then both networks train from that start on the same batches, and
the loss curves are compared until they part.

A network whose outputs or gradients differ fails its job: the summary is the job's reason
(one line, in the console and the report), the rest is the record's ``diagnosis``.
"""

from __future__ import annotations

import linecache
import traceback
from typing import Any

import numpy as np

from nnbench.frameworks.mine import findings
from nnbench.frameworks.mine.code import mean_loss, named
from nnbench.frameworks.mine.findings import TOL, rel
from nnbench.params import epoch_orders

MAX_BATCH = 2048  # finite differences cost two forwards an entry: the first batch, capped
FD_ENTRIES = 6  # entries of each parameter checked by finite differences
FD_STEP = 1e-6
FD_TOL = 1e-6  # central differences in float64 are good to ~1e-9 relative here
CURVE_EPOCHS = 20
PART = 1e-9  # relative difference of the loss at which two curves have parted


class LearnerFault(Exception):
    """Your code raised, or returned what nnbench cannot use: the message says which."""


def _where(err: BaseException, file: Any) -> str:
    """' (my_mlp.py, line 42: <the line>)' for the innermost frame in your file."""
    frames = [f for f in traceback.extract_tb(err.__traceback__)
              if file is not None and f.filename == str(file)]
    if not frames:
        return ""
    f = frames[-1]
    line = (f.line or linecache.getline(f.filename, f.lineno)).strip()
    return f" ({file.name}, line {f.lineno}: {line})"


def _call(what: str, fn: Any, file: Any, *args: Any) -> Any:
    try:
        return fn(*args)
    except Exception as err:  # noqa: BLE001 - the learner's code may raise anything
        first = (str(err).strip().splitlines() or [""])[0]
        raise LearnerFault(f"{what} raised {type(err).__name__}{f': {first}' if first else ''}"
                           f"{_where(err, file)}") from None


def _loss(net: Any, x: np.ndarray, y: np.ndarray) -> float:
    return mean_loss(net.layout.outputs_out(net.code.forward(net.params, x)[0]), y)


def _finite_differences(net: Any, name: str, x: np.ndarray, y: np.ndarray,
                        grad: np.ndarray) -> float:
    """Your gradient against central differences of your forward's loss, at a few entries."""
    p = net.params[name]
    picks = np.random.default_rng(0).choice(p.size, min(FD_ENTRIES, p.size), replace=False)
    fd = np.empty(len(picks))
    for k, flat in enumerate(picks):
        idx = np.unravel_index(flat, p.shape)
        keep = p[idx]
        p[idx] = keep + FD_STEP
        up = _loss(net, x, y)
        p[idx] = keep - FD_STEP
        down = _loss(net, x, y)
        p[idx] = keep
        fd[k] = (up - down) / (2 * FD_STEP)
    return rel(grad.reshape(-1)[picks], fd)


def _gradients(net: Any, torch_net: Any, x: np.ndarray, y: np.ndarray,
               m: int) -> tuple[list[str], dict[str, Any], str | None]:
    xs, ys = net.inputs(x), net.labels(y)
    code = net.code
    _, cache = _call("forward", code.forward, code.file, net.params, xs)
    raw = _call("backward", code.backward, code.file, net.params, cache, xs, ys)
    try:
        raw = named(raw, net.params)
    except (TypeError, KeyError) as err:
        raise LearnerFault(str(err).strip("'\"")) from None
    ref = torch_net.gradients(x, y)
    start = net.numpy_params()
    tried = findings.variants(net.spec, start, x, y)
    lines, table, first = [], {}, None
    for i in range(net.spec.n_layers, 0, -1):
        for name in (f"W{i}", f"b{i}"):
            g, want = np.asarray(raw[name]), net.params[name].shape
            entry: dict[str, Any] = {"shape": list(g.shape)}
            if g.shape != want:
                finding = findings.shape_finding(name, g.shape, want, net.layout)
            else:
                mine = net.layout.params_out({name: g})[name]
                entry["torch"] = rel(mine, ref[name])
                entry["finite_differences"] = _finite_differences(net, name, xs, y, g)
                finding = None if entry["torch"] <= TOL else findings.name_mistake(
                    name, mine, ref[name], m, net.layout, tried, net.spec)
            entry["finding"] = finding
            table[name] = entry
            if finding is None:
                lines.append(f"d{name} matches torch ({entry['torch']:.0e}; finite "
                             f"differences {entry['finite_differences']:.0e})")
            else:
                figures = (f" (relative difference: torch {entry['torch']:.0e}, finite "
                           f"differences {entry['finite_differences']:.0e})"
                           if "torch" in entry else "")
                lines.append(finding + figures)
                first = first or finding
    return lines, table, first


def _forward(net: Any, torch_net: Any, x: np.ndarray) -> tuple[float, str | None]:
    outputs = _call("forward", net.code.forward, net.code.file, net.params, net.inputs(x))[0]
    rows = net.layout.outputs_out(outputs)
    want = (x.shape[0], net.spec.n_out)
    if rows.shape != want:
        given = np.shape(outputs)
        expect = want[::-1] if net.layout.samples == "columns" else want
        raise LearnerFault(f"forward returned outputs of shape {given}; with samples as "
                           f"{net.layout.samples} nnbench expects {expect}")
    theirs = torch_net.outputs_to_numpy(torch_net.infer(torch_net.prepare(x)))
    diff = rel(rows, theirs)
    if diff <= TOL:
        return diff, None
    spec = net.spec
    return diff, (f"the outputs differ from torch's by {diff:.1e} (relative): the forward "
                  f"does not compute arch {'x'.join(map(str, spec.layer_sizes))} with "
                  f"{', '.join(spec.activations)}")


def _curves(make: Any, torch_net: Any, x: np.ndarray, y: np.ndarray, batch_size: int | None,
            epochs: int, seed: int, shuffle: bool) -> dict[str, Any]:
    net = make()
    net.set_train_data(x, y)
    torch_net.set_train_data(x, y)
    mine, theirs, parted, error = [], [], None, None
    orders = epoch_orders(seed, len(y), shuffle)
    for epoch in range(1, min(epochs, CURVE_EPOCHS) + 1):
        perm = next(orders)
        try:
            loss = _call("training", net.train_epoch, net.code.file, perm, batch_size)
        except LearnerFault as err:
            error = f"your network stopped in epoch {epoch}: {err}"
            break
        mine.append(loss)
        theirs.append(torch_net.train_epoch(perm, batch_size))
        if parted is None and not abs(mine[-1] - theirs[-1]) <= PART * abs(theirs[-1]):
            parted = epoch
    out = {"epochs": len(mine), "mine": mine, "torch": theirs, "parted_at_epoch": parted}
    if error:
        out["error"] = error
    return out


def _curve_line(curves: dict[str, Any]) -> str:
    if curves.get("error"):
        return f"loss curves: {curves['error']}"
    mine, theirs, k = curves["mine"], curves["torch"], curves["parted_at_epoch"]
    if k is None:
        worst = max((abs(a - b) / abs(b) for a, b in zip(mine, theirs, strict=True)
                     if b), default=0.0)
        return (f"loss curves agree for {len(mine)} epochs (largest relative difference "
                f"{worst:.0e})")
    return (f"loss curves part at epoch {k}: {mine[k - 1]:.6g} (yours) against "
            f"{theirs[k - 1]:.6g} (torch)")


def diagnose(make: Any, x: np.ndarray, y: np.ndarray, batch_size: int | None, epochs: int,
             seed: int, shuffle: bool) -> dict[str, Any]:
    """The diagnosis of the network ``make()`` builds (a float64 ``MineTrainer`` at the job's
    start) on training data ``x, y``: a dict with ``ok``, ``summary`` (one line), ``lines``
    and the figures behind them."""
    from nnbench.frameworks.torch.trainer import TorchTrainer

    net = make()
    m = min(batch_size or len(y), MAX_BATCH, len(y))
    xb, yb = x[:m], y[:m]

    def torch_net() -> Any:
        return TorchTrainer(net.spec, net.initial_params, "float64", "cpu", net.lr)

    out: dict[str, Any] = {"batch": m, "reference": "torch autograd, float64, the job's start"}
    try:
        diff, wrong_forward = _forward(net, torch_net(), xb)
        out["outputs_max_rel_diff"] = diff
        lines, out["gradients"], first = _gradients(net, torch_net(), xb, yb, m)
    except LearnerFault as err:
        return {**out, "ok": False, "summary": str(err), "lines": [str(err)]}
    lines.insert(0, wrong_forward or f"outputs match torch ({diff:.0e})")
    curves = _curves(make, torch_net(), x, y, batch_size, epochs, seed, shuffle)
    lines.append(_curve_line(curves))
    out["loss_curves"] = curves
    summary = wrong_forward or first
    if summary is None:
        worst = max(out["gradients"], key=lambda k: out["gradients"][k]["torch"])
        summary = (f"your network agrees with torch: outputs {diff:.0e}, gradients up to "
                   f"{out['gradients'][worst]['torch']:.0e} (d{worst})")
    elif wrong_forward is None:
        after = [f"d{k}" for k, v in out["gradients"].items() if v["finding"]][1:]
        if after:
            summary += f"; also wrong: {', '.join(after)}"
    return {**out, "ok": wrong_forward is None and first is None, "summary": summary,
            "lines": lines}
