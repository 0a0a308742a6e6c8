"""NumPy re-statements of Keras's optimizer updates, for checking what training really did.

The model is one weight `w`, a constant input 1 and target 0 under MSE, so every batch's gradient is
`2 * w`. Each function takes per-step hyper-parameters and returns `w` after every step.
"""

import numpy as np


def sgd(w0, lrs, momenta, nesterov=False, weight_decays=None):
    """`weight_decays`: Keras's decoupled decay, `w <- w - w * wd * lr`, applied after the gradient
    is taken and before the update."""
    w, m, out = float(w0), 0.0, []
    decays = np.zeros(len(lrs)) if weight_decays is None else weight_decays
    for lr, mu, wd in zip(lrs, momenta, decays, strict=True):
        g = 2.0 * w
        w = w - w * wd * lr
        m = mu * m - lr * g
        w = w + (mu * m - lr * g if nesterov else m)
        out.append(w)
    return np.array(out)


def adam(w0, lrs, beta_1s, beta_2=0.999, epsilon=1e-7):
    w, m, v, out = float(w0), 0.0, 0.0, []
    for t, (lr, b1) in enumerate(zip(lrs, beta_1s, strict=True), start=1):
        g = 2.0 * w
        alpha = lr * np.sqrt(1 - beta_2**t) / (1 - b1**t)
        m = m + (g - m) * (1 - b1)
        v = v + (g * g - v) * (1 - beta_2)
        w = w - m * alpha / (np.sqrt(v) + epsilon)
        out.append(w)
    return np.array(out)
