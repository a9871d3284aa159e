"""The PyTorch twin of the NumPy network.

``network.py`` is the ``nn.Module`` and its loss; ``trainer.py`` trains it with SGD."""

from nnbench.frameworks.torch.trainer import TorchTrainer

__all__ = ["TorchTrainer"]
