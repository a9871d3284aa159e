"""The contract every framework implements: the seam the whole harness turns on.

A framework is one folder (or any importable module) with a ``Trainer`` subclass, plus one YAML
in ``conf/framework/`` whose ``_target_`` names the class. The harness never asks which framework
it holds (as benchopt never asks which solver). What it asks is split by who asks:

- **the job's set-up** (class level): what the framework can run (``skip_reason``), which
  settings and networks it takes (``Options``, ``check``, ``check_model``, ``compile_mode``:
  refused before any job starts), the matmul whose speed is the MFU peak (``matmul_kernel``),
  imports for the warm process (``preload``), out-of-memory handling (``is_oom``,
  ``free_memory``). A hook that raises anything but ``ConfigError`` fails its job only: the
  record names the hook and the error, and the sweep goes on;
- **one training run** (an instance): ``set_train_data``, ``train_epoch``, ``prepare``,
  ``infer``, ``sync``, optionally ``warm_up`` and ``trace`` (the framework's profiler);
  ``predict`` is built from ``prepare`` and ``infer`` here;
- **the device probes** (``DeviceProbes``): CUDA events and the device's peak memory, with CPU
  defaults, so a CPU framework writes none of them;
- **parameter export** (``ExportsParameters``), an optional capability: the agreement checks
  ask for it; a framework without it is simply not compared number for number;
- **correctness first** (``diagnose``), optional: a network nnbench does not know to be right
  (yours, ``framework=mine``) is checked against torch before it is timed, and a job whose
  network is wrong fails saying where;
- **where an epoch's time goes** (``train_epoch_phased``, ``layer_kernels``), optional too:
  the phases pass (``nnbench.measure.phases``) asks for it; a framework without it is recorded
  without phases, and ``phases_unavailable`` says why.

Required of a CPU framework: ``name``, ``matmul_kernel``, ``set_train_data``, ``train_epoch``,
``prepare``, ``infer`` (and ``skip_reason`` if it cannot run everywhere): the ``noblas``
framework of the tests is exactly that.

Every trainer starts from the same NumPy parameters (``nnbench.params``) and sees the same
batches (one permutation per epoch, handed in), so their loss histories can be compared number
for number.
"""

from __future__ import annotations

import importlib
from abc import ABC, abstractmethod
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Protocol, runtime_checkable

import numpy as np

from nnbench.errors import ConfigError
from nnbench.measure.phases import LayerKernel, PhaseClock
from nnbench.measure.timing import Events
from nnbench.params import Params
from nnbench.precision import Precision, get
from nnbench.spec import ModelSpec, predicted_classes

# One large matmul, and the call that waits for it: what the MFU peak is measured with.
MatmulKernel = tuple[Callable[[], object], Callable[[], None]]


@dataclass
class Options:
    """Settings of one framework beyond ``name`` and ``_target_`` (none by default); a trainer
    with settings of its own declares a subclass, and its YAML may set exactly those keys."""


class DeviceProbes:
    """What the probes ask of a trainer on a GPU; off one there is nothing to ask."""

    def cuda_events(self) -> Events | None:
        """CUDA events of this framework's library when it runs on a GPU, else None."""
        return None

    def reset_peak_memory(self) -> None:
        """Start the device's peak-memory count afresh (nothing to do off CUDA)."""
        return None

    def peak_memory(self) -> tuple[float | None, str | None]:
        """(device peak in MB, what the figure is) since the reset; (None, None) off CUDA."""
        return None, None


@runtime_checkable
class ExportsParameters(Protocol):
    """A trainer whose parameters and gradients can be read as NumPy arrays (W as (out, in),
    b as (out,)): what the agreement checks compare, number for number."""

    def numpy_params(self) -> Params:
        """The current parameters."""
        ...

    def gradients(self, x: np.ndarray, y: np.ndarray) -> Params:
        """Gradients of the loss at the current parameters, without updating them."""
        ...


class Trainer(DeviceProbes, ABC):
    """Mini-batch SGD on the MLP of ``spec``, from ``params``, in ``precision`` on ``device``."""

    # The name its YAML gives it (framework.name): the record's and the report's label.
    name: ClassVar[str]
    Options: ClassVar[type[Options]] = Options

    # -- what the framework can run: decided from the configuration, before anything is built

    @classmethod
    def skip_reason(cls, device: str, precision: Precision) -> str | None:
        """None when this host can run the framework on ``device`` in ``precision``, else
        why not (the job is then recorded as ``skipped`` with that reason)."""
        return None

    @classmethod
    def check(cls, name: str, options: Options, device: str, precision: Precision) -> None:
        """Raise ``ConfigError`` for settings that mean nothing for this framework."""
        if precision.tf32:
            raise ConfigError(f"precision.tf32=true applies to CUDA float32 matmuls (torch on "
                              f"CUDA); this job is framework={name} device={device}")

    @classmethod
    def check_model(cls, spec: ModelSpec) -> None:
        """Raise ``ConfigError`` for a network (activations, loss) this framework cannot
        train: the job is refused before it starts, not failed inside it."""
        return None

    @classmethod
    def compile_mode(cls, options: Options) -> str | None:
        """The compiler mode when the framework compiles the model (the record and the report
        show a compiled model as its own contender), else None."""
        return None

    @classmethod
    @abstractmethod
    def matmul_kernel(cls, n: int, dtype: str, device: str, tf32: bool) -> MatmulKernel:
        """An n x n matmul in this framework's library: the denominator of MFU."""

    @classmethod
    def matmul_size(cls, device: str) -> int | None:
        """The n of the peak's n x n matmul on ``device``, for a library too slow for the
        default's seconds of calibration (None: ``nnbench.measure.peak.SIZES``). The peak
        counts 2n^3 FLOPs a call, so ``matmul_kernel`` must multiply the whole n x n."""
        return None

    @classmethod
    def code_files(cls, options: Options) -> list[Path]:
        """Files this framework runs beyond its own module (your network's, framework=mine):
        part of the code a record says it came from. None by default."""
        return []

    @classmethod
    def preload(cls) -> None:
        """Import what this framework's jobs need: called once in the warm process that each
        job's fresh process is forked from, so no job pays the imports."""
        return None

    @classmethod
    def is_oom(cls, err: BaseException) -> bool:
        """Whether ``err`` is an out-of-memory error (status ``oom``): a host allocation that
        failed, or a GPU allocator's (torch's and CuPy's are both ``OutOfMemoryError``)."""
        return isinstance(err, MemoryError) or type(err).__name__ == "OutOfMemoryError"

    @classmethod
    def free_memory(cls) -> None:
        """Give cached device memory back after an out-of-memory error."""
        return None

    @classmethod
    def blas(cls, device: str) -> dict[str, str] | None:
        """The BLAS and LAPACK this framework's matmuls call on ``device``, as the framework
        itself says (``{"blas": "mkl 2024.2", "lapack": ..., "source": where it was read}``);
        None where it does not say. A process may load several (torch's MKL beside NumPy's
        OpenBLAS): threadpoolctl lists them all, this names the one the framework calls."""
        return None

    # -- one training run

    def __init__(self, spec: ModelSpec, params: Params, precision: Precision | str, device: str,
                 lr: float, options: Options | None = None):
        self.spec = spec
        self.precision = get(precision) if isinstance(precision, str) else precision
        self.device = device
        self.lr = lr
        self.options = options if options is not None else type(self).Options()
        # The start every framework shares (nnbench.params); each takes it into its own form.
        self.initial_params = params

    @property
    def optimizer(self) -> str:
        """What the record says trained the parameters."""
        return "SGD"

    @abstractmethod
    def set_train_data(self, x: np.ndarray, y: np.ndarray) -> None:
        """Take the training set (features float64/float32, labels int64 class indices) into
        the framework's own form, on its device, before any epoch is timed."""

    @abstractmethod
    def train_epoch(self, perm: np.ndarray | None, batch_size: int | None) -> float:
        """One pass in the order ``perm`` (None: stored order), ``batch_size`` samples a step
        (None: full batch); return the sample-weighted mean training loss, read back once."""

    @abstractmethod
    def prepare(self, x: np.ndarray) -> Any:
        """Inputs in the form ``infer`` takes, moved once, outside any timed inference."""

    @abstractmethod
    def infer(self, prepared: Any) -> Any:
        """Output activations for prepared inputs (may be queued on a device: see ``sync``)."""

    def outputs_to_numpy(self, outputs: Any) -> np.ndarray:
        """``infer``'s outputs as a host array, one row per sample (frameworks on a device, or
        with samples as columns, say how)."""
        return np.asarray(outputs)

    def predict(self, x: np.ndarray) -> np.ndarray:
        """Predicted class indices for ``x`` as a NumPy array."""
        return predicted_classes(self.outputs_to_numpy(self.infer(self.prepare(x))))

    def sync(self) -> None:
        """Wait for queued device work; host libraries return when the work is done."""
        return None

    # -- where an epoch's time goes (optional): asked in a pass of its own, after the timed runs

    def train_epoch_phased(self, perm: np.ndarray | None, batch_size: int | None,
                           clock: PhaseClock) -> float:
        """``train_epoch``, the same work in the same order, with ``clock.mark(phase)`` where
        each phase of a step ends: ``gather`` (the batch's rows), ``forward`` (with the loss),
        ``backward``, ``update``; ``rest`` for the loop's own work. A framework that does not
        implement it is recorded without phases, with ``phases_unavailable``'s reason."""
        raise NotImplementedError(self.phases_unavailable())

    def phases_unavailable(self) -> str | None:
        """Why ``train_epoch_phased`` cannot split this trainer's epoch, or None when it can."""
        if type(self).train_epoch_phased is Trainer.train_epoch_phased:
            return (f"framework={self.name} does not split its epoch into phases (its trainer "
                    f"has no train_epoch_phased)")
        return None

    def layer_kernels(self, batch_size: int) -> list[LayerKernel]:
        """Each layer's matmuls and bias work at ``batch_size`` rows, as calls of this
        framework's library that the harness times one by one (none by default)."""
        return []

    def diagnose(self, x: np.ndarray, y: np.ndarray, batch_size: int | None, epochs: int,
                 seed: int, shuffle: bool) -> dict[str, Any] | None:
        """Whether this network is right, asked before anything is timed, of a trainer built in
        float64 at the job's start: a dict with ``ok``, ``summary`` (one line: the job's
        reason when not ok) and what it found. None, the default: nothing to ask (nnbench's
        own networks are held to torch by its tests, not in every job)."""
        return None

    def warm_up(self, batch_sizes: list[int]) -> None:
        """Compile every batch shape of an epoch (frameworks that compile); timed apart."""
        return None

    def trace(self, path: Path) -> AbstractContextManager | None:
        """The framework's own profiler around the epochs run inside the context, written to
        ``path`` on exit (torch: a Chrome trace), or None when it has none. Used only in the
        profiled pass (``bench.profile``), never around a timed epoch."""
        return None


def blas_of(cls: type[Trainer], device: str) -> dict[str, str] | None:
    """``cls.blas(device)``; a hook that fails costs the record this fact, not the job."""
    try:
        return cls.blas(device)
    except Exception as err:  # noqa: BLE001 - a description must not fail what it describes
        return {"error": f"{type(err).__name__}: {err}"}


def load(target: str) -> type[Trainer]:
    """The trainer class a framework YAML names in ``_target_`` ("package.module.Class")."""
    module_name, _, class_name = str(target).rpartition(".")
    try:
        module = importlib.import_module(module_name) if module_name else None
    except ImportError as err:
        raise ConfigError(f"framework._target_={target!r} cannot be imported: {err}") from None
    except Exception as err:  # noqa: BLE001 - a module that raises while it is imported
        raise ConfigError(f"framework._target_={target!r} cannot be imported: importing it "
                          f"raised {type(err).__name__}: {err}") from None
    # looked up apart from the import: a missing class is not an error importing the module
    cls = getattr(module, class_name, None)
    if module is not None and cls is None:
        raise ConfigError(f"framework._target_={target!r} names no class: module {module_name} "
                          f"has no {class_name!r}")
    if not (isinstance(cls, type) and issubclass(cls, Trainer)):
        raise ConfigError(f"framework._target_={target!r} is not a trainer class (a subclass of "
                          f"nnbench.frameworks.base.Trainer, written as package.module.Class)")
    return cls
