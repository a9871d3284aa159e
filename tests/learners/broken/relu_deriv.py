"""Broken on purpose: ``ReLU_deriv`` returns the ReLU itself, not its derivative.

A learner's network as seed 002 writes it: one hidden layer, each parameter an argument,
samples as columns (W1 is (hidden, 784), b1 (hidden, 1)), labels as class indices one-hot
encoded inside ``backward_prop``, a softmax output with cross-entropy.

The functions are written as the seed describes them; the block at the end is what nnbench
reads (docs/yours.md). nnbench starts every framework from the same parameters, so the seed's
own ``init_params`` (uniform in [-0.5, 0.5]) is ``train.init=uniform`` there.
"""

import numpy as np


def init_params(n_in=784, n_hidden=10, n_out=10):
    W1 = np.random.rand(n_hidden, n_in) - 0.5
    b1 = np.random.rand(n_hidden, 1) - 0.5
    W2 = np.random.rand(n_out, n_hidden) - 0.5
    b2 = np.random.rand(n_out, 1) - 0.5
    return W1, b1, W2, b2


def ReLU(Z):
    return np.maximum(Z, 0)


def softmax(Z):
    e = np.exp(Z - np.max(Z, axis=0))
    return e / np.sum(e, axis=0)


def forward_prop(W1, b1, W2, b2, X):
    Z1 = W1.dot(X) + b1
    A1 = ReLU(Z1)
    Z2 = W2.dot(A1) + b2
    A2 = softmax(Z2)
    return Z1, A1, Z2, A2


def ReLU_deriv(Z):
    return np.maximum(Z, 0)


def one_hot_encode(Y, n_classes):
    one_hot_Y = np.zeros((Y.size, n_classes))
    one_hot_Y[np.arange(Y.size), Y] = 1
    return one_hot_Y.T


def backward_prop(Z1, A1, Z2, A2, W1, W2, X, Y):
    m = Y.size
    one_hot_Y = one_hot_encode(Y, A2.shape[0])
    dZ2 = A2 - one_hot_Y
    dW2 = 1 / m * dZ2.dot(A1.T)
    db2 = 1 / m * np.sum(dZ2, axis=1, keepdims=True)
    dZ1 = W2.T.dot(dZ2) * ReLU_deriv(Z1)
    dW1 = 1 / m * dZ1.dot(X.T)
    db1 = 1 / m * np.sum(dZ1, axis=1, keepdims=True)
    return dW1, db1, dW2, db2


# -- for nnbench: the layout, and the seed's functions called with the parameters by name
layout = {"samples": "columns", "labels": "indices"}


def forward(params, x):
    Z1, A1, Z2, A2 = forward_prop(params["W1"], params["b1"], params["W2"], params["b2"], x)
    return A2, (Z1, A1, Z2, A2)


def backward(params, cache, x, y):
    dW1, db1, dW2, db2 = backward_prop(*cache, params["W1"], params["W2"], x, y)
    return {"dW1": dW1, "db1": db1, "dW2": dW2, "db2": db2}
