"""The MLP as textbooks write it, the baseline of ``make bench-numpy``.

``network.py`` is the network; ``trainer.py`` drives it."""

from nnbench.frameworks.textbook.trainer import TextbookTrainer

__all__ = ["TextbookTrainer"]
