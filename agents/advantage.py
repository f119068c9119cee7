"""Targets and losses of advantage(lambda) learning, as pure functions over padded episode batches.

The network outputs advantages A(s, a); the state value is V(s) = max_a A(s, a). For the action
taken, the target is (Harmon & Baird 1996; SCIENCE.md section 7)

    A_target(s_t, a_t) = V(s_t) + (G_t - V(s_t)) / kappa

where G_t is the lambda-return built from one-step bootstraps r_t + gamma * V(s_{t+1}). kappa = 1
turns this into a Q(lambda)-style target (A_target = G_t); kappa < 1 widens the gap between the
best action and the others. Bakker (2002) used eligibility traces; here whole episodes are
unrolled by backpropagation through time and the lambda-return is computed backwards in time.

Every tensor is time-major, (T, B): T padded steps of B episodes. ``mask`` marks real steps.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor


def check_unit_interval(name: str, value: float, *, open_low: bool = False) -> float:
    """Validate a hyperparameter in [0, 1] (or (0, 1] when ``open_low``); raise ValueError otherwise."""
    ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    ok = ok and (0.0 < value <= 1.0 if open_low else 0.0 <= value <= 1.0)
    if not ok:
        interval = "(0, 1]" if open_low else "[0, 1]"
        raise ValueError(f"{name} must be a number in {interval}, got {value!r}")
    return float(value)


def bootstrap_values(values: Tensor, terminated: Tensor) -> Tensor:
    """V(s_{t+1}) for each step t, zero where step t ended the episode by termination.

    ``values`` (T+1, B) holds V(s_0) .. V(s_T): the value of the observation that follows the last
    step is included so that a truncated episode can bootstrap from it. ``terminated`` (T, B) bool.
    """
    if values.shape[0] != terminated.shape[0] + 1 or values.shape[1:] != terminated.shape[1:]:
        raise ValueError(
            f"values must have shape (T+1, B) for terminated (T, B); got {tuple(values.shape)} "
            f"and {tuple(terminated.shape)}"
        )
    return values[1:] * (~terminated).to(values.dtype)


def lambda_returns(
    rewards: Tensor, next_values: Tensor, continues: Tensor, gamma: float, lam: float
) -> Tensor:
    """lambda-returns G_t, computed backwards in time.

        G_t = r_t + gamma * (next_v_t + lam * continues_t * (G_{t+1} - next_v_t))

    ``next_values`` (T, B): V(s_{t+1}), already zero after a terminal step. ``continues`` (T, B):
    1 where step t+1 belongs to the same episode, 0 at an episode's last step (or padding), so the
    last step bootstraps fully from next_v (0 if terminal, V of the final observation if truncated).
    lam = 0 gives one-step targets, lam = 1 Monte-Carlo returns (plus the bootstrap on truncation).
    """
    check_unit_interval("gamma", gamma)
    check_unit_interval("lam", lam)
    if not rewards.shape == next_values.shape == continues.shape:
        raise ValueError(
            f"rewards, next_values and continues must share one shape, got {tuple(rewards.shape)}, "
            f"{tuple(next_values.shape)}, {tuple(continues.shape)}"
        )
    if rewards.shape[0] == 0:
        return torch.empty_like(rewards)
    # G_t = base_t + coef_t * G_{t+1}: everything but the recursion computed for all steps at once,
    # then one fused multiply-add per step (per-step scalar arithmetic dominated the update's cost)
    coef = continues.to(rewards.dtype) * (gamma * lam)
    base = rewards + (gamma - gamma * lam * continues.to(rewards.dtype)) * next_values
    if base.device.type == "cpu" and not base.requires_grad:  # numpy's calls cost a third of torch's
        return torch.from_numpy(_scan(base.numpy(), coef.numpy(), next_values[-1].numpy()))
    g = next_values[-1]
    out = []
    for b, c in zip(reversed(base.unbind(0)), reversed(coef.unbind(0)), strict=True):
        g = torch.addcmul(b, c, g)
        out.append(g)
    out.reverse()
    return torch.stack(out)


def _scan(base: np.ndarray, coef: np.ndarray, last: np.ndarray) -> np.ndarray:
    """G_t = base_t + coef_t * G_{t+1} backwards in time from G_T = ``last``."""
    out = np.empty_like(base)
    g = last
    multiply, add = np.multiply, np.add
    for t in range(base.shape[0] - 1, -1, -1):
        o = out[t]
        multiply(coef[t], g, o)
        add(o, base[t], o)
        g = o
    return out


def advantage_targets(values: Tensor, returns: Tensor, kappa: float) -> Tensor:
    """A_target = V(s_t) + (G_t - V(s_t)) / kappa, for the actions taken. kappa in (0, 1]."""
    check_unit_interval("kappa", kappa, open_low=True)
    return values + (returns - values) / kappa


def advantage_loss(
    advantages: Tensor,
    actions: Tensor,
    targets: Tensor,
    mask: Tensor,
    huber_delta: float | None = None,
) -> Tensor:
    """Masked mean squared (or Huber) error between A(s_t, a_t) and its (detached) target.

    ``advantages`` (T, B, A) from the network; ``actions`` (T, B) int64; ``targets`` and ``mask``
    (T, B). Padding steps (mask 0) contribute nothing; the mean is over real steps.
    """
    taken = advantages.gather(-1, actions.unsqueeze(-1)).squeeze(-1)
    err = taken - targets.detach()
    if huber_delta is None:
        per_step = 0.5 * err.pow(2)
    else:
        per_step = torch.nn.functional.huber_loss(
            taken, targets.detach(), reduction="none", delta=huber_delta
        )
    m = mask.to(per_step.dtype)
    return (per_step * m).sum() / m.sum().clamp(min=1.0)


def linear_schedule(start: float, end: float, fraction: float, progress: float) -> float:
    """Linear interpolation from ``start`` to ``end`` over the first ``fraction`` of training.

    ``progress`` in [0, 1] is the fraction of training done; after ``fraction`` the value stays at end.
    """
    if fraction <= 0.0:
        return end
    return start + (end - start) * min(1.0, progress / fraction)
