"""One gradient step of advantage(lambda) learning on a batch of whole episodes.

The batch is padded to the longest episode and unrolled from a zero state (BPTT); targets come
from :mod:`.advantage`, bootstrapped by the target network where there is one (else by the online
network, without gradient). Optional penalties on AF activations keep firing rates low.
"""

from __future__ import annotations

import torch

from . import fast_update
from .advantage import advantage_loss, advantage_targets, bootstrap_values, lambda_returns
from .network import AdvantageNetwork
from .replay import Episode, pad_episodes
from .settings import Hyperparams


def _mean_activation(acts: list[torch.Tensor], mask: torch.Tensor) -> torch.Tensor:
    """Mean over real steps and units of each population's activation, averaged over populations."""
    return sum((a[:-1] * mask).sum() / (mask.sum() * a.shape[-1]) for a in acts) / len(acts)


def make_optimizer(network: torch.nn.Module, learning_rate: float) -> torch.optim.Adam:
    """Adam over ``network``'s parameters, as torch's fused kernel where this torch has one for the
    device (one call per step instead of a dozen small ops per parameter; the same update up to
    float rounding), else the plain one."""
    device = next(network.parameters()).device
    if device.type in ("cpu", "cuda"):
        try:
            return torch.optim.Adam(network.parameters(), lr=learning_rate, fused=True)
        except (RuntimeError, ValueError):  # a torch without the fused kernel for this device
            pass
    return torch.optim.Adam(network.parameters(), lr=learning_rate)


def update_loss(
    network: AdvantageNetwork,
    target_network: AdvantageNetwork | None,
    episodes: list[Episode],
    hp: Hyperparams,
    device: torch.device,
    generator: torch.Generator | None = None,
) -> tuple[torch.Tensor, float]:
    """The loss of one update on ``episodes`` (with its graph) and its TD part as a float: the
    batch padded to the longest episode and unrolled from a zero state by autograd."""
    batch = pad_episodes(episodes, device)
    q, _, acts = network(
        batch["obs"], noise_std=hp.train_noise, cell_noise_std=hp.train_cell_noise, generator=generator
    )  # (T+1, B, A) from a zero state
    with torch.no_grad():
        q_boot = target_network(batch["obs"])[0] if target_network is not None else q
        values = q_boot.max(-1).values  # V = max_a A, (T+1, B)
        next_values = bootstrap_values(values, batch["terminated"])
        returns = lambda_returns(batch["rewards"], next_values, batch["continues"], hp.gamma, hp.lam)
        targets = advantage_targets(values[:-1], returns, hp.kappa)
    mask = batch["mask"]
    loss = advantage_loss(q[:-1], batch["actions"], targets, mask, hp.huber_delta or None)
    td_loss = float(loss.detach())
    m = mask.to(q.dtype).unsqueeze(-1)
    if hp.rate_penalty > 0.0:
        # mean AF activation over the units that become spiking neurons, real steps only
        loss = loss + hp.rate_penalty * _mean_activation(list(acts.values()), m)
    if hp.gate_rate_penalty > 0.0:
        zi = [acts[k] for k in ("cell_input", "input_gate") if k in acts]
        if zi:
            loss = loss + hp.gate_rate_penalty * _mean_activation(zi, m)
    return loss, td_loss


def gradient_step(
    network: AdvantageNetwork,
    target_network: AdvantageNetwork | None,
    optimizer: torch.optim.Optimizer,
    episodes: list[Episode],
    hp: Hyperparams,
    device: torch.device,
    generator: torch.Generator | None = None,
) -> dict[str, float]:
    """Update ``network`` once on ``episodes``; return the TD loss and the gradient norm.

    ``generator`` supplies the noise of noise-aware training (``hp.train_noise``,
    ``hp.train_cell_noise``), which makes the decisions robust to the spiking twin's errors.
    """
    if fast_update.supported(network):
        batch = pad_episodes(episodes, device)
        td_loss, _, grads = fast_update.loss_and_grads(network, target_network, batch, hp, generator)
        for name, param in network.named_parameters():
            param.grad = torch.from_numpy(grads[name])
    else:
        loss, td_loss = update_loss(network, target_network, episodes, hp, device, generator)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
    grad_norm = torch.nn.utils.clip_grad_norm_(network.parameters(), hp.max_grad_norm)
    optimizer.step()
    return {"loss": td_loss, "grad_norm": float(grad_norm)}
