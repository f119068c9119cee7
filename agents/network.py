"""The Bakker-style advantage network: AF input encoding, an AF hidden layer beside the memory
cells, and a linear head with one advantage per action.

    x_t = AF(obs_t)                       input units (in the spiking twin: ASNs driven by obs;
                                          input_gain g: AF_ASN(g obs_t) / AF_ASN(g), neuron.input_code)
    a_t = AF(W_a x_t + b_a)               hidden layer of ordinary AF units (feed-forward)
    h_t = core(x_t, h_{t-1}, c_{t-1})     memory cells (see cores.py)
    A_t = W_q [a_t, h_t] + b_q            advantages, one per action

Every unit with an AF nonlinearity becomes one ASN in sublstm.spiking; the head is linear in the
post-synaptic traces. The parameter names here (``hidden``, ``core.w_in``, ``core.w_rec``,
``head``) are what the converter reads.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from .cores import State, make_core, zero_where
from .neuron import DEFAULT_ASN, ASNParams, af, check_input_gain, input_code, predicted_rate_hz


class AdvantageNetwork(nn.Module):
    def __init__(
        self,
        obs_dim: int,
        n_actions: int,
        core: str = "asn-sublstm",
        n_hidden: int = 16,
        n_cells: int = 8,
        asn: ASNParams = DEFAULT_ASN,
        input_gain: float | None = None,
    ) -> None:
        super().__init__()
        for name, value in (("obs_dim", obs_dim), ("n_actions", n_actions), ("n_hidden", n_hidden)):
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        self.obs_dim, self.n_actions, self.n_hidden, self.n_cells = obs_dim, n_actions, n_hidden, n_cells
        self.core_name = core
        self.asn = asn
        # the input units' code (neuron.input_code): None, AF(obs); g, the ASN's trace at g * obs
        self.input_gain = check_input_gain(input_gain)
        self.hidden = nn.Linear(obs_dim, n_hidden)
        self.core = make_core(core, obs_dim, n_cells, asn)
        self.head = nn.Linear(n_hidden + n_cells, n_actions)

    def initial_state(self, batch_size: int, device=None) -> State:
        return self.core.initial_state(batch_size, device)

    def forward(
        self,
        obs: Tensor,
        state: State | None = None,
        resets: Tensor | None = None,
        noise_std: float = 0.0,
        cell_noise_std: float = 0.0,
        generator: torch.Generator | None = None,
    ) -> tuple[Tensor, State, dict[str, Tensor]]:
        """obs (T, B, obs_dim) -> advantages (T, B, n_actions), final state, activations by population.

        ``noise_std`` > 0 adds Gaussian noise of that std to every signal the spiking twin carries
        as post-synaptic traces (the input units x, the hidden layer a, the memory output h, on its
        way to the head and back into the gates), ``cell_noise_std`` to each step's increment of the
        memory cell c: noise-aware training, so that the decisions survive the twin's rate errors
        (spike ripple, the AF/ASN mismatch at low activations). The returned activations stay
        noise-free (they estimate firing rates). The noise is drawn from ``generator`` (None: torch's
        global generator).
        """
        if noise_std < 0 or cell_noise_std < 0:
            raise ValueError(f"noise stds must be >= 0, got {noise_std!r} and {cell_noise_std!r}")
        x = input_code(obs, self.asn, self.input_gain)
        a = af(self.hidden(x), self.asn)
        if noise_std == 0 and cell_noise_std == 0:
            hs, state, acts = self.core(x, state, resets)
        else:
            hs, state, acts = self._noisy_core(
                x + _noise(x, noise_std, generator), state, resets, noise_std, cell_noise_std, generator
            )
        a_read = a + _noise(a, noise_std, generator) if noise_std else a
        q = self.head(torch.cat([a_read, hs], dim=-1))
        return q, state, {"input": x, "hidden": a, **acts}

    def _noisy_core(
        self,
        xs: Tensor,
        state: State | None,
        resets: Tensor | None,
        noise_std: float,
        cell_noise_std: float,
        generator: torch.Generator | None = None,
    ) -> tuple[Tensor, State, dict[str, Tensor]]:
        """The core's time loop (as Core.forward) with noise on h and on the cell increments."""
        core = self.core
        if state is None:
            state = core.initial_state(xs.shape[1], xs.device)
        outs, acts = [], []
        for t in range(xs.shape[0]):
            if resets is not None:
                state = zero_where(state, resets[t])
            h, (_, c), a = core.step(xs[t], state)
            if noise_std:
                h = h + _noise(h, noise_std, generator)
            if cell_noise_std:
                c = c + _noise(c, cell_noise_std, generator)
            state = (h, c)
            outs.append(h)
            acts.append(a)
        stacked = {k: torch.stack([a[k] for a in acts]) for k in acts[0]} if acts else {}
        return torch.stack(outs), state, stacked

    def step(self, obs: Tensor, state: State | None = None) -> tuple[Tensor, State]:
        """One time step: obs (B, obs_dim) -> advantages (B, n_actions), next state."""
        q, state, _ = self.forward(obs.unsqueeze(0), state)
        return q[0], state

    def macs_per_step(self) -> int:
        """Multiply-accumulates of one analog step (the energy proxy beside spiking synops)."""
        return sum(m.in_features * m.out_features for m in self.modules() if isinstance(m, nn.Linear)) + sum(
            m.weight_ih.numel() + m.weight_hh.numel() for m in self.modules() if isinstance(m, nn.LSTMCell)
        )


def _noise(like: Tensor, std: float, generator: torch.Generator | None) -> Tensor:
    """Gaussian noise of standard deviation ``std`` shaped like ``like``, drawn from ``generator``."""
    return std * torch.randn(like.shape, generator=generator, device=like.device, dtype=like.dtype)


def predicted_mean_rate_hz(acts: dict[str, Tensor], asn: ASNParams = DEFAULT_ASN) -> dict[str, float]:
    """Mean firing rate per population predicted from AF activations, and ``overall`` over all units."""
    rates, total, count = {}, 0.0, 0
    for name, a in acts.items():
        r = predicted_rate_hz(a.detach(), asn)
        rates[name] = float(r.mean())
        total += float(r.sum()) / max(1, r[..., 0].numel())
        count += r.shape[-1]
    rates["overall"] = total / max(1, count)
    return rates
