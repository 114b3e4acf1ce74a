"""The NCA-style weight fit the learned-weight screens share (issue 17).

Each query picks one of its candidates with probability ``softmax(-d / tau)``, where ``d`` is a
weighted sum of cached cost parts; the fit maximises the mean log-probability of picking one
of the query's class (``tau`` fitted too) minus ``lam * sum((m - 1) ** 2) / n_weights``, where
``m`` is each weight relative to a starting set (``m >= 0``), with L-BFGS-B. Queries with no
candidate of their class carry no gradient and are left out.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import minimize


def fit_weights(parts, lam, free):
    """Weights on the parts' columns, fitted relative to ``parts[0]["preset"]``.

    Each part is one seed: ``flat`` ``(n_queries * n_candidates, n_weights)`` float32 costs
    whose weighted sum is a candidate's distance, ``cand`` (for the shape) and ``same``
    (candidate of the query's class). ``free`` masks the weights that move; the others stay
    at the preset's. Returns the absolute weights."""
    preset = parts[0]["preset"]
    for part in parts:
        part["usable"] = part["same"].any(axis=1)
    n_queries = sum(int(part["usable"].sum()) for part in parts)
    n_free = int(free.sum())

    def expand(theta):
        relative = np.ones(len(preset))
        relative[free] = theta[:-1]
        return relative

    def objective(theta):
        relative, tau = expand(theta), np.exp(theta[-1])
        weights = (relative * preset).astype(np.float32)
        loss, grad, grad_log_tau = 0.0, np.zeros(len(preset)), 0.0
        for part in parts:
            d = (part["flat"] @ weights).reshape(part["cand"].shape).astype(np.float64)
            logits = -d / tau
            logits -= logits.max(axis=1, keepdims=True)
            p = np.exp(logits)
            p /= p.sum(axis=1, keepdims=True)
            in_class = np.where(part["same"], p, 0.0)
            mass = in_class.sum(axis=1)
            usable = part["usable"]
            loss -= np.log(mass[usable]).sum()
            q = np.zeros_like(p)
            q[usable] = in_class[usable] / mass[usable, None]
            p = np.where(usable[:, None], p, 0.0)
            g = (q - p) / tau  # d loss / d d_ij
            grad += (part["flat"].T @ g.ravel().astype(np.float32)).astype(np.float64)
            grad_log_tau -= (g * d).sum()
        moving = theta[:-1]
        loss = loss / n_queries + lam * np.sum((moving - 1) ** 2) / len(preset)
        grad_relative = (grad * preset)[free] / n_queries + lam * 2 * (moving - 1) / len(preset)
        return loss, np.append(grad_relative, grad_log_tau / n_queries)

    start = np.append(np.ones(n_free), np.log(0.05))
    bounds = [(0.0, None)] * n_free + [(None, None)]
    result = minimize(objective, start, jac=True, method="L-BFGS-B", bounds=bounds)
    print(f"  lam {lam}, {n_free} free: loss {result.fun:.5f}, {result.nit} iterations", flush=True)
    return expand(result.x) * preset
