"""The loss of one update and its gradients, written out in numpy, for the asn cores on the CPU.

:func:`sublstm.agents.learner.update_loss` builds the loss with torch and lets autograd take the
gradients. On the CPU, with a network this small, most of that time is per-operation overhead:
autograd nodes and a fresh allocation for each elementwise op on the batch. This module computes
the same loss (advantage(lambda) TD error, rate penalties) and its gradient by hand: the forward
pass of :class:`~sublstm.agents.network.AdvantageNetwork` with the noise of noise-aware training
(drawn as its ``forward`` draws it), the cells' compiled time loops of :mod:`.cell_kernels` (one
network, S = 1, every row at every step) and the backward pass of every layer. The learner checks
(tests/agents/test_fast_update.py) that loss and gradients equal autograd's through the step-by-step
network.
"""

from __future__ import annotations

import numpy as np
import torch

from .advantage import check_unit_interval, lambda_returns
from .cell_kernels import GATING, af_block, af_constants, cells_backward, cells_forward, gating_flags
from .gates import GATE_CEILING
from .network import AdvantageNetwork
from .neuron import input_code
from .settings import Hyperparams

#: the parameters whose gradients :func:`loss_and_grads` returns (AdvantageNetwork's names)
PARAMETERS = (
    "hidden.weight",
    "hidden.bias",
    "core.w_in.weight",
    "core.w_in.bias",
    "core.w_rec.weight",
    "head.weight",
    "head.bias",
)


def supported(network: AdvantageNetwork) -> bool:
    """Whether :func:`loss_and_grads` computes this network's update (asn cells, float32, CPU)."""
    weight = network.head.weight
    return network.core_name in GATING and weight.device.type == "cpu" and weight.dtype == torch.float32


def loss_and_grads(
    network: AdvantageNetwork,
    target_network: AdvantageNetwork | None,
    batch: dict[str, torch.Tensor],
    hp: Hyperparams,
    generator: torch.Generator | None = None,
    with_total: bool = False,
) -> tuple[float, float, dict[str, np.ndarray]]:
    """(TD loss, total loss, gradient of the total loss by parameter name) of one update on a padded
    batch (:func:`~sublstm.agents.replay.pad_episodes`), as update_loss computes them. The total
    (with the rate penalties) is computed only ``with_total`` (else it is the TD loss): the
    gradients do not need it."""
    check_unit_interval("kappa", hp.kappa, open_low=True)
    asn = network.asn
    p = {name: t.detach().numpy() for name, t in network.named_parameters()}
    obs = batch["obs"].numpy()
    t1, b, d = obs.shape  # T + 1 observations per column
    n_hidden, n_cells = network.n_hidden, network.n_cells
    ns, cs = float(hp.train_noise), float(hp.train_cell_noise)
    noisy = ns > 0 or cs > 0

    # --- forward: AdvantageNetwork.forward with its noise, in the same order of draws ----------
    k = af_constants(asn)
    x = input_values(network, obs, k)
    hidden_pre = x @ p["hidden.weight"].T + p["hidden.bias"]
    a, d_hidden = af_values(hidden_pre, k, grad=True)
    x_in = x
    noise_h = noise_c = None
    a_read = a
    if noisy:
        x_in = x + ns * torch.randn(x.shape, generator=generator).numpy()
        widths = [s for s in (ns, cs) if s]
        hc = torch.randn(t1, len(widths), b, n_cells, generator=generator).numpy()
        if ns:
            noise_h = (ns * hc[:, 0]).reshape(1, t1 * b, n_cells)
        if cs:
            noise_c = (cs * hc[:, -1]).reshape(1, t1 * b, n_cells)
        if ns:
            a_read = a + ns * torch.randn(a.shape, generator=generator).numpy()
    # the cells: one network (S = 1) of B rows at every step, (T+1) * B rows step after step; with
    # the mask as row weights, the forward pass sums each cell population over the real steps
    mask = batch["mask"].numpy()
    m_full = np.zeros((t1, b), dtype=np.float32)
    m_full[:-1] = mask
    x_flat = x_in.reshape(-1, d)
    pre = x_flat @ p["core.w_in.weight"].T
    pre += p["core.w_in.bias"]
    subtractive, bounded = gating_flags(network.core_name)
    w_rec = p["core.w_rec.weight"][None]
    rows = [b] * t1
    fwd = cells_forward(
        pre[None], w_rec, rows, asn, subtractive, noise_h, noise_c, m_full.reshape(1, -1), bounded=bounded
    )
    hs = fwd.hs.reshape(t1, b, n_cells)
    w_head = p["head.weight"]
    features = np.concatenate([a_read, hs], axis=-1).reshape(t1 * b, -1)
    q = features @ w_head.T
    q += p["head.bias"]
    q = q.reshape(t1, b, -1)

    # --- the loss -------------------------------------------------------------------------------
    m = m_full[:-1]
    if target_network is not None:
        with torch.no_grad():
            boot = target_network(batch["obs"])[0].numpy()
    else:
        boot = q
    values = boot.max(-1)  # (T+1, B)
    next_values = values[1:] * ~batch["terminated"].numpy()
    returns = lambda_returns(
        torch.from_numpy(batch["rewards"].numpy()),
        torch.from_numpy(next_values),
        batch["continues"],
        hp.gamma,
        hp.lam,
    ).numpy()
    targets = values[:-1] + (returns - values[:-1]) / np.float32(hp.kappa)
    actions = batch["actions"].numpy()
    taken = np.take_along_axis(q[:-1], actions[..., None], -1)[..., 0]
    err = taken - targets
    count = max(float(m.sum()), 1.0)
    if hp.huber_delta:
        delta = np.float32(hp.huber_delta)
        abs_err = np.abs(err)
        per_step = np.where(abs_err < delta, 0.5 * err * err, delta * (abs_err - 0.5 * delta))
        d_taken = np.clip(err, -delta, delta)
    else:
        per_step = 0.5 * err * err
        d_taken = err
    td_loss = float((per_step * m).sum() / count)
    d_taken = d_taken * m / np.float32(count)

    # rate penalties: coefficient of each population's masked sum (_mean_activation in learner)
    m_sum = float(m.sum())
    coef = {name: 0.0 for name in ("input", "hidden", "z", "i", "o", "u")}
    widths = {"input": d, "hidden": n_hidden, "z": n_cells, "i": n_cells, "o": n_cells, "u": n_cells}
    if hp.rate_penalty > 0:
        for name in coef:
            coef[name] += hp.rate_penalty / 6 / (m_sum * widths[name])
    if hp.gate_rate_penalty > 0:
        for name in ("z", "i"):
            coef[name] += hp.gate_rate_penalty / 2 / (m_sum * widths[name])
    total = td_loss
    if with_total and any(coef.values()):
        z, i, o, u = fwd.sums.reshape(4, n_cells).sum(1).tolist()
        sums = {
            "input": float((x[:-1] * m[..., None]).sum()),
            "hidden": float((a[:-1] * m[..., None]).sum()),
            "z": z,
            "i": i,
            "o": o,
            "u": u,
        }
        total += sum(coef[name] * sums[name] for name in coef)

    # --- backward ---------------------------------------------------------------------------------
    dq = np.zeros_like(q)
    np.put_along_axis(dq[:-1], actions[..., None], d_taken[..., None], -1)
    grads: dict[str, np.ndarray] = {}
    dq_flat = dq.reshape(-1, dq.shape[-1])
    grads["head.bias"] = dq_flat.sum(0)
    grads["head.weight"] = dq_flat.T @ features
    d_features = (dq_flat @ w_head).reshape(t1, b, -1)
    d_hs = np.ascontiguousarray(d_features[..., n_hidden:]).reshape(1, t1 * b, n_cells)
    d_a = d_features[..., :n_hidden]
    d_sums = weights = None
    if any(coef.values()):
        if coef["hidden"]:
            d_a += np.float32(coef["hidden"]) * m_full[..., None]
        d_sums = np.repeat(np.array([[coef[k] for k in "ziou"]], dtype=np.float32), n_cells, axis=1)
        weights = m_full.reshape(1, -1)
    d_pre = cells_backward(fwd, w_rec, d_hs, d_sums=d_sums, weights=weights).reshape(t1 * b, -1)
    # pre_t = in_t + W_rec h_{t-1}: every row of step t >= 1 reads the row b positions before it
    grads["core.w_rec.weight"] = d_pre[b:].T @ fwd.hs.reshape(t1 * b, -1)[:-b]
    grads["core.w_in.bias"] = d_pre.sum(0)
    grads["core.w_in.weight"] = d_pre.T @ x_flat
    d_hidden *= d_a
    d_hidden_flat = d_hidden.reshape(-1, n_hidden)
    grads["hidden.bias"] = d_hidden_flat.sum(0)
    grads["hidden.weight"] = d_hidden_flat.T @ x.reshape(-1, d)
    return td_loss, total, {name: np.ascontiguousarray(g, dtype=np.float32) for name, g in grads.items()}


def af_values(s: np.ndarray, k: np.ndarray, grad: bool = False):
    """AF of a float32 array (any shape) and, with ``grad``, its derivative: (AF, dAF/dS); ``k``
    the constants of :func:`~sublstm.agents.cell_kernels.af_constants` (looked up once per call of
    the callers: this runs a few times per acting step)."""
    flat = np.ascontiguousarray(s, dtype=np.float32).reshape(-1)
    out, slope = np.empty_like(flat), np.empty_like(flat)
    af_block(flat, out, slope, k)
    out = out.reshape(s.shape)
    return (out, slope.reshape(s.shape)) if grad else out


def input_values(network: AdvantageNetwork, obs: np.ndarray, k: np.ndarray) -> np.ndarray:
    """The input units' activations x of ``network`` for ``obs`` (its input code, no gradient)."""
    if network.input_gain is None:
        return af_values(obs, k)
    obs = torch.from_numpy(np.asarray(obs, dtype=np.float32))
    return input_code(obs, network.asn, network.input_gain).numpy()


def forward_step(
    network: AdvantageNetwork,
    obs: torch.Tensor,
    state: tuple[torch.Tensor, torch.Tensor],
    resets: torch.Tensor,
) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor], dict[str, torch.Tensor]]:
    """One acting step of ``network`` (no gradient, no noise) in numpy: what ``network(obs, state,
    resets)`` returns for obs (1, B, obs_dim) and resets (1, B), a dozen numpy calls instead of
    torch's sixty (acting runs once per vector step of training)."""
    k = af_constants(network.asn)
    p = {name: t.detach().numpy() for name, t in network.named_parameters()}
    x = input_values(network, obs[0].numpy(), k)
    a = af_values(x @ p["hidden.weight"].T + p["hidden.bias"], k)
    keep = ~resets[0].numpy()[:, None]
    h, c = (s.numpy() * keep for s in state)
    gates = af_values(x @ p["core.w_in.weight"].T + p["core.w_in.bias"] + h @ p["core.w_rec.weight"].T, k)
    n = network.n_cells
    subtractive, bounded = gating_flags(network.core_name)
    if bounded:  # input and output gates min(AF, 1)
        np.minimum(gates[:, n:], GATE_CEILING, out=gates[:, n:])
    z, i, o = gates[:, :n], gates[:, n : 2 * n], gates[:, 2 * n :]
    c = c + (z - i if subtractive else z * i)
    u = af_values(c, k)
    h = u - o if subtractive else u * o
    q = np.concatenate([a, h], axis=-1) @ p["head.weight"].T + p["head.bias"]
    acts = {"input": x, "hidden": a, "cell_input": z, "input_gate": i, "output_gate": o, "output_cell": u}
    as_torch = {name: torch.from_numpy(np.ascontiguousarray(v))[None] for name, v in acts.items()}
    return torch.from_numpy(q)[None], (torch.from_numpy(h), torch.from_numpy(c)), as_torch
