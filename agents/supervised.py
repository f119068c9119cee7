"""The supervised path: the same AdvantageNetwork and cores trained with cross-entropy on
next-symbol prediction (Hochreiter & Schmidhuber 1997, experiments 2a and 2b; SCIENCE.md section 6).

The network's head has one output per symbol (its "actions" are the symbols) and is read as
logits. Every step's next symbol is a target, but the figure that matters is the accuracy on the
final symbol, which repeats the first and can only come from memory held for p - 1 steps.

Batches come from a function ``batch_fn(batch_size, rng) -> (inputs (p, B, p+1) float32,
targets (p, B) int64)``; by default :func:`sublstm.envs.sequence.sequence_batch`, imported lazily
so that this package does not depend on envs at import time.
"""

from __future__ import annotations

import functools
import importlib
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from .advantage import check_unit_interval
from .network import AdvantageNetwork, predicted_mean_rate_hz
from .neuron import ASNParams
from .settings import check_int, ramp_weight

BatchFn = Callable[[int, np.random.Generator], tuple[np.ndarray, np.ndarray]]


def default_batch_fn(p: int, noisy: bool) -> BatchFn:
    """sequence_batch from sublstm.envs.sequence with p and noisy bound."""
    sequence_batch = importlib.import_module("sublstm.envs.sequence").sequence_batch
    return functools.partial(_call_batch, sequence_batch, p, noisy)


def _call_batch(fn, p, noisy, batch_size, rng):
    return fn(batch_size, p=p, noisy=noisy, rng=rng)


@dataclass
class SequenceResult:
    """A trained network and how it got there."""

    network: AdvantageNetwork
    final_accuracy: float  # on the last (memory) symbol, over fresh evaluation sequences
    all_accuracy: float  # over every predicted symbol (2b's random middle symbols cap this)
    updates: int
    wall_s: float
    rate_hz: dict[str, float]
    history: list[dict[str, Any]] = field(default_factory=list)


@torch.no_grad()
def evaluate_sequences(
    network: AdvantageNetwork, batch_fn: BatchFn, n: int, rng: np.random.Generator, device
) -> dict[str, Any]:
    """Final-symbol and all-symbol accuracy on ``n`` fresh sequences, and predicted firing rates."""
    inputs, targets = batch_fn(n, rng)
    x = torch.from_numpy(inputs).to(device)
    y = torch.from_numpy(targets).to(device)
    logits, _, acts = network(x)
    pred = logits.argmax(-1)
    return {
        "final_accuracy": float((pred[-1] == y[-1]).float().mean()),
        "all_accuracy": float((pred == y).float().mean()),
        "rate_hz": predicted_mean_rate_hz(acts, network.asn),
    }


def train_sequence(
    p: int = 10,
    noisy: bool = False,
    core: str = "asn-sublstm",
    seed: int = 0,
    n_hidden: int = 16,
    n_cells: int = 8,
    batch_size: int = 64,
    max_updates: int = 5000,
    learning_rate: float = 3e-3,
    max_grad_norm: float = 1.0,
    rate_penalty: float = 2.0,
    train_noise: float = 0.1,
    train_cell_noise: float = 0.05,
    stop_patience: int = 3,
    eval_every: int = 100,
    eval_sequences: int = 1000,
    stop_at_accuracy: float | None = 1.0,
    stop_at_rate_hz: float | None = 8.0,
    rate_penalty_after: float | None = None,
    rate_penalty_ramp_updates: int = 0,
    device: str | torch.device = "cpu",
    asn: ASNParams | None = None,
    batch_fn: BatchFn | None = None,
    callback: Callable[[dict[str, Any]], bool | None] | None = None,
) -> SequenceResult:
    """Train an AdvantageNetwork (p+1 inputs, p+1 outputs) on next-symbol prediction.

    Stops after ``max_updates`` or once the final-symbol accuracy of ``stop_patience`` periodic
    evaluations in a row reaches ``stop_at_accuracy`` (None: never early); the evaluations past
    the first keep training on, which widens the decision margins the spiking twin needs. With
    ``stop_at_rate_hz`` an evaluation counts only where, besides, the firing rate predicted from
    the AF activations (mean over all units) is at most that: training goes on while the rate
    penalty still lowers the rates.
    ``callback(record)`` gets every evaluation record; returning False stops training.

    ``train_noise`` and ``train_cell_noise`` are the noise-aware training of the RL agent
    (:class:`~sublstm.agents.settings.Hyperparams`): Gaussian noise on the signals the twin
    carries as traces and on each memory-cell increment, in the loss only (evaluation is
    noise-free). ``rate_penalty`` weighs the mean AF activation (firing rates) in the loss; with
    ``rate_penalty_after`` (an accuracy) it applies only from the first evaluation whose
    final-symbol accuracy reaches it, rising linearly to full weight over
    ``rate_penalty_ramp_updates`` updates, and only evaluations after that count for the stop rule
    (as :class:`~sublstm.agents.settings.Hyperparams`' ``rate_penalty_after`` for the RL agent:
    the multiplicative cells learn under a rate penalty only this way).
    """
    for name, value in (("batch_size", batch_size), ("max_updates", max_updates), ("eval_every", eval_every)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")
    for name, value in (("learning_rate", learning_rate), ("max_grad_norm", max_grad_norm)):
        if not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
            raise ValueError(f"{name} must be a positive finite number, got {value!r}")
    for name, value in (
        ("rate_penalty", rate_penalty),
        ("train_noise", train_noise),
        ("train_cell_noise", train_cell_noise),
    ):
        number = isinstance(value, (int, float)) and not isinstance(value, bool)
        if not number or not math.isfinite(value) or value < 0:
            raise ValueError(f"{name} must be a non-negative finite number, got {value!r}")
    if stop_at_rate_hz is not None and (
        isinstance(stop_at_rate_hz, bool)
        or not isinstance(stop_at_rate_hz, (int, float))
        or not stop_at_rate_hz > 0
    ):
        raise ValueError(f"stop_at_rate_hz must be a positive number of Hz or None, got {stop_at_rate_hz!r}")
    if isinstance(stop_patience, bool) or not isinstance(stop_patience, int) or stop_patience < 1:
        raise ValueError(f"stop_patience must be a positive integer, got {stop_patience!r}")
    if rate_penalty_after is not None:
        check_unit_interval("rate_penalty_after", rate_penalty_after, open_low=True)
    ramp = check_int("rate_penalty_ramp_updates", rate_penalty_ramp_updates, 0, numpy_ok=False)
    device = torch.device(device)
    batch_fn = batch_fn or default_batch_fn(p, noisy)
    torch.manual_seed(seed)
    noise_generator = torch.Generator(device=device).manual_seed(seed + 2_000_003)
    rng = np.random.default_rng(seed)
    eval_rng = np.random.default_rng(seed + 1_000_003)
    n_symbols = p + 1
    network = AdvantageNetwork(
        n_symbols, n_symbols, core=core, n_hidden=n_hidden, n_cells=n_cells, asn=asn or ASNParams()
    ).to(device)
    optimizer = torch.optim.Adam(network.parameters(), lr=learning_rate)
    loss_fn = nn.CrossEntropyLoss()
    history: list[dict[str, Any]] = []
    t0 = time.perf_counter()
    update = streak = 0
    # the update after which the rate penalty applies (0: from the first; inf: not yet)
    penalty_on = 0 if rate_penalty_after is None else math.inf
    for update in range(1, max_updates + 1):
        inputs, targets = batch_fn(batch_size, rng)
        x = torch.from_numpy(inputs).to(device)
        y = torch.from_numpy(targets).to(device)
        logits, _, acts = network(
            x, noise_std=train_noise, cell_noise_std=train_cell_noise, generator=noise_generator
        )
        loss = loss_fn(logits.reshape(-1, n_symbols), y.reshape(-1))
        weight = ramp_weight(update, penalty_on, ramp)
        if rate_penalty > 0.0 and weight > 0.0:
            loss = loss + rate_penalty * weight * sum(a.mean() for a in acts.values()) / len(acts)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(network.parameters(), max_grad_norm)
        optimizer.step()
        if update % eval_every == 0 or update == max_updates:
            result = evaluate_sequences(network, batch_fn, eval_sequences, eval_rng, device)
            record = {
                "update": update,
                "loss": float(loss.detach()),
                "final_accuracy": result["final_accuracy"],
                "all_accuracy": result["all_accuracy"],
                "rate_hz": result["rate_hz"]["overall"],
                "rate_penalty_weight": weight,
                "wall_s": time.perf_counter() - t0,
            }
            history.append(record)
            stop = callback is not None and callback(record) is False
            at_target = stop_at_accuracy is not None and result["final_accuracy"] >= stop_at_accuracy
            # an evaluation counts once the penalty has been at full weight (after its switch)
            at_target = at_target and update > penalty_on and weight >= 1.0
            if penalty_on == math.inf and result["final_accuracy"] >= rate_penalty_after:
                penalty_on = update
            if stop_at_rate_hz is not None:
                at_target = at_target and record["rate_hz"] <= stop_at_rate_hz
            streak = streak + 1 if at_target else 0
            if stop or streak >= stop_patience:
                break
    wall_s = time.perf_counter() - t0
    final = evaluate_sequences(network, batch_fn, eval_sequences, np.random.default_rng(seed + 7), device)
    return SequenceResult(
        network=network,
        final_accuracy=final["final_accuracy"],
        all_accuracy=final["all_accuracy"],
        updates=update,
        wall_s=wall_s,
        rate_hz=final["rate_hz"],
        history=history,
    )
