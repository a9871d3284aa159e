"""FLOPs from the architecture: the matmuls, which dominate an MLP and set the machine's limit.

Per sample and layer with ``n_in`` inputs and ``n_out`` outputs, the forward matmul costs
``2 n_in n_out`` FLOPs (one multiply and one add per weight). Training adds the weight gradient
(another ``2 n_in n_out``) and, for every layer but the first, the gradient with respect to the
layer's input (``2 n_in n_out`` more): the input data needs no gradient, and neither
implementation computes one. Bias adds, activations, the loss and the SGD update are elementwise
and left out; they are memory-bound, not FLOP-bound, and a matmul peak is no yardstick for them.
"""

from __future__ import annotations

from collections.abc import Sequence


def _layers(layer_sizes: Sequence[int]) -> list[tuple[int, int]]:
    return list(zip(layer_sizes[:-1], layer_sizes[1:], strict=True))


def inference_flops_per_sample(layer_sizes: Sequence[int]) -> int:
    return sum(2 * n_in * n_out for n_in, n_out in _layers(layer_sizes))


def train_flops_per_sample(layer_sizes: Sequence[int]) -> int:
    total = 0
    for index, (n_in, n_out) in enumerate(_layers(layer_sizes)):
        passes = 2 if index == 0 else 3  # forward + weight grad (+ input grad past layer one)
        total += passes * 2 * n_in * n_out
    return total


def train_flops_per_epoch(layer_sizes: Sequence[int], n_samples: int) -> int:
    return train_flops_per_sample(layer_sizes) * n_samples
