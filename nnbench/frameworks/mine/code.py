"""Your network's code, read once: the protocol it follows, and the layout it declares.

The file (``path/to/my_mlp.py``) or module (``my_package.my_mlp``) that ``mine=`` names holds
two functions and a dict, as a learner's code has them or in a few lines of adapter beside it:

- ``forward(params, x) -> (outputs, cache)``: the output activations (after the sigmoid or
  softmax), and whatever ``backward`` needs;
- ``backward(params, cache, x, y) -> grads``: the gradient of the mean loss over the batch for
  every parameter, keyed ``dW1, db1, ...`` (or ``W1, b1, ...``);
- ``layout``: where the samples are (``samples``: ``columns``, ``z = W @ x + b``, or ``rows``),
  how W is stored (``weights``: ``out_in``, the default, or ``in_out``), the bias (``bias``:
  ``column``, ``row`` or ``vector``; by default a column with samples as columns, else a
  vector) and the labels ``backward`` takes (``labels``: ``one_hot``, the default, in the
  samples' layout, or ``indices``);
- optionally ``setup(layer_sizes, activations)``, called once per network before any other.

``params`` is a dict ``W1, b1, W2, ...`` in that layout. nnbench owns the rest (the start, the
batches, the update, the clock), so your functions are measured on exactly the work torch does.
The code is imported, never copied: the functions are called where they are.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from nnbench.errors import ConfigError
from nnbench.params import Params

CHOICES = {"samples": ("columns", "rows"), "weights": ("out_in", "in_out"),
           "bias": ("column", "row", "vector"), "labels": ("one_hot", "indices")}
HOW = ("mine=path/to/my_mlp.py (a file) or mine=my_package.my_mlp (a module) holding "
       "forward(params, x), backward(params, cache, x, y) and a layout dict")


@dataclass(frozen=True)
class Layout:
    samples: str
    weights: str
    bias: str
    labels: str

    def params_in(self, params: Params, dtype: str) -> Params:
        """nnbench's parameters (W (out, in), b (out,)) in this layout, as new arrays."""
        out = {}
        for name, value in params.items():
            if name.startswith("W"):
                value = value.T if self.weights == "in_out" else value
            else:
                value = {"column": value.reshape(-1, 1), "row": value.reshape(1, -1),
                         "vector": value.reshape(-1)}[self.bias]
            out[name] = np.array(value, dtype=dtype, order="C")
        return out

    def params_out(self, params: Params) -> Params:
        """This layout's parameters as nnbench's: W (out, in), b (out,)."""
        return {name: np.array(value.T if self.weights == "in_out" else value)
                if name.startswith("W") else np.array(value).reshape(-1)
                for name, value in params.items()}

    def x_in(self, x: np.ndarray, dtype: str) -> np.ndarray:
        return np.ascontiguousarray(x.T if self.samples == "columns" else x, dtype=dtype)

    def y_in(self, y: np.ndarray, n_out: int, dtype: str) -> np.ndarray:
        """Labels as ``backward`` takes them: class indices, or one-hot in the samples'
        layout (one output unit: a row or column of 0/1)."""
        y = np.asarray(y, dtype=np.int64)
        if self.labels == "indices":
            return y
        hot = (y.reshape(-1, 1).astype(dtype) if n_out == 1
               else np.eye(n_out, dtype=dtype)[y])
        return np.ascontiguousarray(hot.T if self.samples == "columns" else hot)

    def outputs_out(self, outputs: Any) -> np.ndarray:
        """``forward``'s outputs as rows, one per sample."""
        outputs = np.asarray(outputs)
        return outputs.T if self.samples == "columns" else outputs


@dataclass(frozen=True)
class Code:
    """The learner's functions and layout, as imported from ``where``."""

    where: str
    file: Path | None
    forward: Callable[..., Any]
    backward: Callable[..., Any]
    setup: Callable[..., Any] | None
    layout: Layout


def _import(where: str) -> ModuleType:
    path = Path(where).expanduser()
    if where.endswith(".py") or "/" in where:
        if not path.is_file():
            raise ConfigError(f"mine={where}: no such file; {HOW}")
        path = path.resolve()
        name = f"nnbench_mine_{path.stem}_{zlib.crc32(str(path).encode()):08x}"
        if name in sys.modules:
            return sys.modules[name]
        # its own imports (a learner's module beside an adapter) are found next to it
        if str(path.parent) not in sys.path:
            sys.path.insert(0, str(path.parent))
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
        sys.modules[name] = module
        try:
            spec.loader.exec_module(module)  # type: ignore[union-attr]
        except BaseException:
            del sys.modules[name]
            raise
        return module
    return importlib.import_module(where)


def load(where: str | None) -> Code:
    """Import the code ``mine=`` names and check that it follows the protocol; a
    ``ConfigError`` of one line otherwise."""
    if not where:
        raise ConfigError(f"framework=mine needs your network's code: {HOW}")
    where = str(where)
    try:
        module = _import(where)
    except ConfigError:
        raise
    except Exception as err:  # noqa: BLE001 - the learner's module may raise anything
        first = (str(err).strip().splitlines() or [""])[0]
        raise ConfigError(f"mine={where} cannot be imported: {type(err).__name__}"
                          f"{f': {first}' if first else ''}") from None
    missing = [n for n in ("forward", "backward", "layout") if not hasattr(module, n)]
    if missing:
        raise ConfigError(f"mine={where} has no {' and no '.join(missing)}; {HOW}")
    for name in ("forward", "backward", "setup"):
        if hasattr(module, name) and not callable(getattr(module, name)):
            raise ConfigError(f"mine={where}: {name} is not a function")
    return Code(where, Path(module.__file__) if getattr(module, "__file__", None) else None,
                module.forward, module.backward, getattr(module, "setup", None),
                layout(where, module.layout))


def layout(where: str, given: Any) -> Layout:
    """The ``layout`` dict checked, its defaults filled in."""
    if not isinstance(given, dict):
        raise ConfigError(f"mine={where}: layout is a {type(given).__name__}, not a dict such "
                          f"as {{'samples': 'columns'}}")
    for key, value in given.items():
        if key not in CHOICES:
            raise ConfigError(f"mine={where}: layout[{key!r}] is not a layout key; the keys "
                              f"are {', '.join(CHOICES)}")
        if value not in CHOICES[key]:
            raise ConfigError(f"mine={where}: layout[{key!r}]={value!r} is not one of "
                              f"{', '.join(CHOICES[key])}")
    if "samples" not in given:
        raise ConfigError(f"mine={where}: layout needs 'samples': 'columns' (z = W @ x + b) "
                          f"or 'rows' (z = x @ W.T + b)")
    samples = given["samples"]
    return Layout(samples, given.get("weights", "out_in"),
                  given.get("bias", "column" if samples == "columns" else "vector"),
                  given.get("labels", "one_hot"))


def mean_loss(rows: np.ndarray, y: np.ndarray) -> float:
    """The mean cross-entropy of output activations ``rows`` (one row a sample) against class
    indices ``y``: binary for one output unit, categorical otherwise. A probability of 0 is
    taken as the dtype's smallest, so that a saturated output gives a large loss, not inf."""
    tiny = np.finfo(rows.dtype).tiny if rows.dtype.kind == "f" else 1e-300
    if rows.shape[1] == 1:
        p = rows[:, 0]
        picked = np.where(y == 1, p, 1 - p)
    else:
        picked = rows[np.arange(rows.shape[0]), y]
    return float(-np.mean(np.log(np.maximum(picked, tiny))))


def named(grads: Any, params: Params) -> Params:
    """``backward``'s gradients by parameter name: ``dW1`` or ``W1`` for ``W1``."""
    if not isinstance(grads, dict):
        raise TypeError(f"backward returned a {type(grads).__name__}, not a dict of gradients "
                        f"keyed dW1, db1, ... (or W1, b1, ...)")
    out = {}
    for name in params:
        value = grads.get(f"d{name}", grads.get(name))
        if value is None:
            given = ", ".join(map(str, grads)) or "nothing"
            raise KeyError(f"backward returned no gradient for {name} (no d{name} or {name}; "
                           f"it returned {given})")
        out[name] = value
    return out
