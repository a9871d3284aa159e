"""torch's profiler around a torch trainer's epochs, exported as a Chrome trace, each
operator with its inputs' shapes (``record_shapes``: which matmul is which layer).

The trace labels each epoch ("train_epoch") and each step's parts ("zero_grad", "forward" with
the loss, "backward", "optimizer_step") with ``record_function``. A label costs a call into
torch even when no profiler listens, so the timed loop carries none: while the trace is open
the trainer's ``train_epoch`` and ``_step`` are labelled twins set on the instance, and on exit
the class's own are back.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.profiler import ProfilerActivity, profile, record_function

# The trainer is a TorchTrainer, annotated Any: the trainer imports this module, not the reverse.


def _labelled_step(trainer: Any, xb: torch.Tensor, tb: torch.Tensor) -> torch.Tensor:
    # TorchTrainer._step, the same calls in the same order, each part under its label
    with record_function("zero_grad"):
        trainer.sgd.zero_grad(set_to_none=True)
    with record_function("forward"), trainer._autocast():
        loss = trainer._batch_loss(xb, tb)
    with record_function("backward"):
        trainer.scaler.scale(loss).backward()
    with record_function("optimizer_step"):
        trainer.scaler.step(trainer.sgd)
        trainer.scaler.update()
    return loss


@contextlib.contextmanager
def chrome_trace(trainer: Any, path: Path) -> Iterator[None]:
    """torch.profiler over the epochs run inside; the Chrome trace is written to ``path`` on
    exit (CPU operators, and the GPU's kernels on CUDA)."""
    activities = [ProfilerActivity.CPU]
    if trainer.torch_device.type == "cuda":
        activities.append(ProfilerActivity.CUDA)
    epoch = trainer.train_epoch

    def labelled_epoch(perm: np.ndarray | None, batch_size: int | None) -> float:
        with record_function("train_epoch"):
            return epoch(perm, batch_size)

    trainer.train_epoch = labelled_epoch  # type: ignore[method-assign]
    trainer._step = lambda xb, tb: _labelled_step(trainer, xb, tb)  # type: ignore[method-assign]
    try:
        with _quiet_off_gpu(trainer.torch_device.type != "cuda"), \
                profile(activities=activities, record_shapes=True) as prof:  # matmul sizes
            yield
            trainer.sync()
        prof.export_chrome_trace(str(path))
    finally:
        del trainer.train_epoch, trainer._step


@contextlib.contextmanager
def _quiet_off_gpu(quiet: bool) -> Iterator[None]:
    """Off a GPU, kineto (torch's profiler library) prints its start and stop to stderr, and,
    in a CUDA build, "ERROR: gpuGetDeviceCount failed" for the GPU it looks for: nothing
    about the job. Its log level is read once, when it first starts in the process; a level
    set by the user stands."""
    if not quiet or "KINETO_LOG_LEVEL" in os.environ:
        yield
        return
    os.environ["KINETO_LOG_LEVEL"] = "6"  # above ERROR (4) and its start/stop lines (5)
    try:
        yield
    finally:
        del os.environ["KINETO_LOG_LEVEL"]
