"""Broken on purpose: the weight gradients are transposed (``dz.T @ a_prev``).

A learner's network as seed 001 writes it: a class ``NeuralNetwork(layer_sizes,
activations)`` with ``forward(X, training=False)`` and ``fit(X, y, epochs, alpha, batch_size,
seed)``, samples as rows (X is (m, features)), weights stored (in, out) and biases as rows.

The class is the learner's, unchanged; the block at the end is what nnbench reads
(docs/yours.md): the network is built once, and nnbench's parameters are its weights.
"""

# ruff: noqa: B905  (zip without strict=, as the learner writes it)
import numpy as np


class NeuralNetwork:
    def __init__(self, layer_sizes, activations, seed=42):
        rng = np.random.default_rng(seed)
        self.activations = list(activations)
        self.weights = [rng.standard_normal((n_in, n_out)) * np.sqrt(2.0 / n_in)
                        for n_in, n_out in zip(layer_sizes[:-1], layer_sizes[1:])]
        self.biases = [np.zeros((1, n_out)) for n_out in layer_sizes[1:]]
        self._cache = []

    @staticmethod
    def _activate(z, name):
        if name == "relu":
            return np.maximum(0, z)
        if name == "sigmoid":
            return 1.0 / (1.0 + np.exp(-z))
        if name == "softmax":
            e = np.exp(z - z.max(axis=1, keepdims=True))
            return e / e.sum(axis=1, keepdims=True)
        return z

    @staticmethod
    def _derivative(z, name):
        if name == "relu":
            return (z > 0).astype(z.dtype)
        if name == "sigmoid":
            s = 1.0 / (1.0 + np.exp(-z))
            return s * (1 - s)
        return np.ones_like(z)

    def forward(self, X, training=False):
        a = X
        cache = [(None, X)]
        for W, b, name in zip(self.weights, self.biases, self.activations):
            z = a @ W + b
            a = self._activate(z, name)
            cache.append((z, a))
        if training:
            self._cache = cache
        return a

    def backward(self, y):
        """Gradients of the mean cross-entropy for one-hot ``y`` (m, classes), from the cache
        of the last ``forward(X, training=True)``: (weight gradients, bias gradients)."""
        m = y.shape[0]
        dz = self._cache[-1][1] - y
        grads_w, grads_b = [], []
        for i in reversed(range(len(self.weights))):
            a_prev = self._cache[i][1]
            grads_w.insert(0, dz.T @ a_prev / m)
            grads_b.insert(0, dz.sum(axis=0, keepdims=True) / m)
            if i > 0:
                dz = (dz @ self.weights[i].T) * self._derivative(self._cache[i][0],
                                                                 self.activations[i - 1])
        return grads_w, grads_b

    def fit(self, X, y, epochs, alpha, batch_size, seed):
        rng = np.random.default_rng(seed)
        onehot = np.eye(self.weights[-1].shape[1])[y]
        history = []
        for _ in range(epochs):
            order = rng.permutation(X.shape[0])
            for start in range(0, X.shape[0], batch_size):
                rows = order[start:start + batch_size]
                out = self.forward(X[rows], training=True)
                grads_w, grads_b = self.backward(onehot[rows])
                for i in range(len(self.weights)):
                    self.weights[i] -= alpha * grads_w[i]
                    self.biases[i] -= alpha * grads_b[i]
            history.append(float(-np.mean(np.log(out[np.arange(len(rows)), y[rows]]))))
        return history

    def predict(self, X):
        return self.forward(X).argmax(axis=1)


# -- for nnbench: the layout, one network built for the run's shape, and nnbench's parameters
# put in its lists (the same arrays: nnbench's update is the network's)
layout = {"samples": "rows", "weights": "in_out", "bias": "row"}
net = None


def setup(layer_sizes, activations):
    global net
    net = NeuralNetwork(layer_sizes, activations)


def forward(params, x):
    layers = range(1, len(params) // 2 + 1)
    net.weights = [params[f"W{i}"] for i in layers]
    net.biases = [params[f"b{i}"] for i in layers]
    return net.forward(x, training=True), None


def backward(params, cache, x, y):
    grads_w, grads_b = net.backward(y)
    return {**{f"dW{i}": g for i, g in enumerate(grads_w, 1)},
            **{f"db{i}": g for i, g in enumerate(grads_b, 1)}}
