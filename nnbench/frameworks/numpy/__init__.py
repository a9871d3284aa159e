"""The from-scratch NumPy network (CuPy on a GPU).

``network.py`` is the network; ``trainer.py`` drives it."""

from nnbench.frameworks.numpy.trainer import NumpyTrainer

__all__ = ["NumpyTrainer"]
