"""SpikingPolicy: an SB3-shaped policy that acts with the spiking twin of a trained agent.

Each ``predict`` call advances the spiking network by ``step_ms`` of simulated time with the
observation held, then picks the action with the largest action value (read at the end of the
step, or averaged over its last ``readout_window_ms``). The state is one continuous-time run per
episode: it carries over between calls and is reset only where ``episode_start`` is True.
Statistics (firing rates per population, spikes and synaptic events per decision) accumulate over
every decision taken since construction or :meth:`reset_stats`.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from .network import POPULATIONS, SpikingNetwork, SpikingState
from .timing import TwinTiming


class SpikingPolicy:
    """Acts with a :class:`SpikingNetwork`; build it with :meth:`from_agent` or :meth:`from_network`.

    Args:
        network: the spiking twin.
        analog_macs_per_step: multiply-accumulates of one analog step (reported beside synops).
        temperature: Boltzmann temperature used when ``deterministic=False``.
    """

    def __init__(
        self, network: SpikingNetwork, analog_macs_per_step: int = 0, temperature: float = 1.0
    ) -> None:
        if not isinstance(temperature, int | float) or not temperature > 0:
            raise ValueError(f"temperature must be a positive number, got {temperature!r}")
        self.network = network
        self.analog_macs_per_step = int(analog_macs_per_step)
        self.temperature = float(temperature)
        self.reset_stats()

    @classmethod
    def from_network(
        cls,
        network,
        timing: TwinTiming | None = None,
        device: torch.device | str | None = None,
        temperature: float = 1.0,
        **changes,
    ) -> SpikingPolicy:
        """Convert an analog AdvantageNetwork (ValueError if its core has no spiking twin).

        ``timing`` defaults to :class:`TwinTiming`; ``changes`` (dt, step_ms, readout_window_ms,
        recurrent_delay_ms) replace single fields of it, as in :meth:`SpikingNetwork.from_analog`.
        """
        twin = SpikingNetwork.from_analog(network, timing, **changes)
        if device is not None:
            twin = twin.to(device)
        return cls(twin, analog_macs_per_step=network.macs_per_step(), temperature=temperature)

    @classmethod
    def from_agent(cls, agent, timing: TwinTiming | None = None, **kwargs) -> SpikingPolicy:
        """Convert a trained AdvantageAgent (its ``.network``, on the network's device); ``kwargs``
        as for :meth:`from_network`."""
        return cls.from_network(agent.network, timing, **kwargs)

    @property
    def step_ms(self) -> float:
        return self.network.step_ms

    @property
    def dt_ms(self) -> float:
        return self.network.dt

    # --- acting ---------------------------------------------------------------------------------
    def initial_state(self, batch_size: int) -> SpikingState:
        return self.network.initial_state(batch_size)

    @torch.no_grad()
    def act(
        self,
        obs: Tensor,
        state: SpikingState | None = None,
        episode_start: Tensor | None = None,
        active: Tensor | None = None,
        on_dt=None,
    ):
        """Tensor-level step: obs (batch, obs_dim) -> (action values (batch, n_actions), StepResult, state).

        ``active`` (bool, (batch,)) selects the rows counted in the statistics (finished episodes
        of a batched rollout are stepped but not counted); all rows by default.
        """
        obs = torch.as_tensor(obs, dtype=torch.float32, device=self.network.device)
        if obs.dim() != 2 or obs.shape[1] != self.network.obs_dim:
            raise ValueError(f"obs must have shape (batch, {self.network.obs_dim}), got {tuple(obs.shape)}")
        batch = obs.shape[0]
        if state is None:
            state = self.initial_state(batch)
        elif not isinstance(state, SpikingState) or state.c.shape[0] != batch:
            raise ValueError(
                f"state must be a SpikingState for a batch of {batch} (or None), got {type(state)}"
            )
        if episode_start is not None:
            start = torch.as_tensor(
                np.asarray(episode_start, dtype=bool).reshape(-1), device=self.network.device
            )
            if start.shape[0] != batch:
                raise ValueError(f"episode_start must have {batch} entries, got {start.shape[0]}")
            state = self.network.reset(state, start)
        result, state = self.network.step(obs, state, on_dt=on_dt)
        counted = (
            result.spikes if active is None else result.spikes[torch.as_tensor(active, device=obs.device)]
        )
        self._spikes += counted.sum(0).double().cpu()
        self._decisions += counted.shape[0]
        return result.q_mean, result, state

    def predict(self, observation, state=None, episode_start=None, deterministic: bool = True):
        """SB3-shaped: (actions, state). A single observation (obs_dim,) gives a scalar action."""
        obs = np.asarray(observation, dtype=np.float32)
        single = obs.ndim == 1
        q, _, state = self.act(obs[None] if single else obs, state, episode_start)
        if deterministic:
            actions = q.argmax(-1)
        else:
            actions = torch.distributions.Categorical(logits=q / self.temperature).sample()
        actions = actions.cpu().numpy()
        return (actions[0] if single else actions), state

    @torch.no_grad()
    def teacher_forced(self, obs_seq: Tensor, resets: Tensor | None = None) -> dict[str, Tensor]:
        """Feed given observation sequences (T, batch, obs_dim); nothing the policy does changes them.

        ``resets`` (T, batch) bool restarts the state before a step (an episode start); the state
        starts at rest either way. Returns CPU tensors: ``q_end`` and ``q_mean`` (T, batch, A),
        ``actions`` (T, batch) from ``q_mean``, ``actions_end`` from ``q_end``, ``c`` (T, batch, H)
        and ``spikes`` (T, batch, N) counts per step. Statistics are not updated.
        """
        obs_seq = torch.as_tensor(obs_seq, dtype=torch.float32, device=self.network.device)
        if obs_seq.dim() != 3 or obs_seq.shape[2] != self.network.obs_dim:
            raise ValueError(
                f"obs_seq must have shape (T, batch, {self.network.obs_dim}), got {tuple(obs_seq.shape)}"
            )
        state = self.initial_state(obs_seq.shape[1])
        out: dict[str, list[Tensor]] = {"q_end": [], "q_mean": [], "c": [], "spikes": []}
        for t in range(obs_seq.shape[0]):
            if resets is not None:
                state = self.network.reset(state, torch.as_tensor(resets[t]))
            result, state = self.network.step(obs_seq[t], state)
            out["q_end"].append(result.q_end)
            out["q_mean"].append(result.q_mean)
            out["c"].append(result.c)
            out["spikes"].append(result.spikes)
        res = {k: torch.stack(v).cpu() for k, v in out.items()}
        res["actions"] = res["q_mean"].argmax(-1)
        res["actions_end"] = res["q_end"].argmax(-1)
        return res

    # --- statistics -----------------------------------------------------------------------------
    def reset_stats(self) -> None:
        self._spikes = torch.zeros(self.network.n_neurons, dtype=torch.float64)
        self._decisions = 0

    def stats(self) -> dict:
        """Firing rates (Hz) per population and overall, spikes and synaptic events per decision."""
        net = self.network
        d = max(1, self._decisions)
        seconds = d * net.step_ms / 1000.0
        per_pop = net.population_counts(self._spikes)
        sizes = {p: net.slices[p].stop - net.slices[p].start for p in POPULATIONS}
        rates = {p: float(per_pop[p]) / (sizes[p] * seconds) for p in POPULATIONS}
        rates["overall"] = float(self._spikes.sum()) / (net.n_neurons * seconds)
        synops = float(self._spikes @ net.fan_out.double().cpu())
        return {
            "decisions": self._decisions,
            "step_ms": net.step_ms,
            "dt_ms": net.dt,
            "readout_window_ms": net.readout_window_ms,
            "neurons": sizes,
            "rate_hz": rates,
            "mean_rate_hz": rates["overall"],
            "spikes_per_decision": float(self._spikes.sum()) / d,
            "spikes_per_decision_by_population": {p: float(per_pop[p]) / d for p in POPULATIONS},
            "synops_per_decision": synops / d,
            "analog_macs_per_step": self.analog_macs_per_step,
        }
