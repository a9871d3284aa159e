"""Your own NumPy network, benchmarked beside nnbench's and torch: ``framework=mine``.

``code.py`` reads your code (the protocol it follows); ``trainer.py`` runs it inside nnbench's
loop; ``nnbench.frameworks.diagnosis`` says whether it is right, and where it first is not."""

from nnbench.frameworks.mine.trainer import MineTrainer

__all__ = ["MineTrainer"]
