"""nnbench: the same MLP from scratch in NumPy and in PyTorch, measured side by side."""

__version__ = "0.1.0"
