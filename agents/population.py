"""A population of advantage agents trained side by side in one process, as one batched computation.

    pop = Population("sublstm/NoisyTMaze-v0", n_agents=32, seeds=range(32))
    pop.learn(total_timesteps_per_agent=300_000, stop_at_success=0.95, stop_patience=2)
    pop.steps_to()                  # per member: timesteps of the first evaluation at >= 95 %
    agent = pop.member(3)           # an ordinary AdvantageAgent: save, load, predict, twin

Each member is an independent agent as :class:`~sublstm.agents.agent.AdvantageAgent` defines it:
its own seed (initial weights as ``AdvantageAgent(seed=...)`` draws them, and its own generators
for envs, exploration, replay sampling, training noise and evaluation), its own weights and Adam
moments, its own replay of its own episodes, its own stop rule. What is shared is the computation:
the weights are stacked along a member dimension (:mod:`.population_network`), the envs are one
tensor env of S * n_envs episodes (:mod:`.population_envs`), the replay is a few tensors
(:mod:`.population_replay`). Every random draw of a member comes from its own streams
(:mod:`.population_random`), so a member's run does not depend on which other members share the
population (up to float rounding of the batched products).

One vector step: every member acts on its ``n_envs`` episodes (epsilon-greedy), the env steps, the
step is stored; every ``train_every`` vector steps, ``gradient_steps`` updates, each on a batch of
``batch_episodes`` whole episodes per member (one forward and backward for all members, the loss
summed over members, gradient norms clipped per member). The cost of an update follows the steps
that are real, not the padding: each member's episodes are sorted longest first and every BPTT step
computes only the rows still inside their episode; only learning members' weights take part; the
asn cores' steps are single autograd nodes. A member that has stopped is frozen: its weights,
moments and counters stay as they were when it stopped. Stopping is final: at the next vector step
the population's working arrays (envs, replay, random streams, recurrent state) drop the stopped
members, so that the cost of a vector step follows the members still learning; what a member
draws and does does not change when others stop (each keeps its own streams, where they were).

A member begins its updates under the single agent's rule (``updates_may_start``: by default once
its replay holds ``max(learning_starts, batch_episodes)`` episodes; with ``learning_starts_unit=
"steps"``, as long corridors use, once it has taken ``learning_starts`` steps and finished ``n_envs``
episodes). Options for long memories (issue 10, point 4):

- ``replay_steps`` bounds each member's replay in steps as well as in episodes
  (``buffer_episodes``), so the long time-outs of the first episodes leave it as new steps come.
- ``bptt_steps`` (None: whole episodes) cuts replayed episodes after that many steps for the
  update; the cut bootstraps from the value at the cut, computed from the episode's start. For a
  T-maze it must exceed the corridor length by a few steps, or the turn is never trained.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import asdict
from typing import Any

import numpy as np
import torch

from .advantage import (
    advantage_targets,
    bootstrap_values,
    check_unit_interval,
    lambda_returns,
    linear_schedule,
)
from .agent import AdvantageAgent
from .network import AdvantageNetwork
from .neuron import ASNParams
from .population_cells import packed_positions
from .population_envs import MemberEnv
from .population_network import CELLS, StackedAdam, StackedNetwork
from .population_random import MemberStreams, check_seed, derived_seed, member_generators
from .population_replay import MemberReplay
from .runtime import seeded_torch
from .settings import (
    HYPERPARAM_NAMES,
    Hyperparams,
    check_int,
    check_number,
    penalty_scale,
    stop_history,
    updates_may_start,
)
from .stopping import StopRule

#: success rate whose first evaluation :meth:`Population.steps_to` reports by default
TARGET = 0.95


class Population:
    """S independent advantage agents trained as one batched computation; see the module docstring.

    Args:
        env_id: a registered id with a tensor version (``sublstm.envs.tensor.TENSOR_ENV_IDS``).
        n_agents: S, the number of members.
        core: "asn-sublstm" (default), "asn-lstm", "sublstm" or "lstm".
        seeds: one non-negative integer per member (default 0 .. S-1); duplicates are allowed
            (such members run the same course).
        env_kwargs: keyword arguments of the env (e.g. ``corridor_length``).
        device: torch device of everything (weights, envs, replay).
        asn: neuron parameters of the AF units.
        replay_steps: replay capacity per member in steps (besides ``buffer_episodes``); it must
            hold the env's longest episode.
        bptt_steps: cut replayed episodes after this many steps (None: whole episodes).
        **hyperparams: fields of :class:`~sublstm.agents.agent.Hyperparams`, shared by all members.
    """

    def __init__(
        self,
        env_id: str,
        n_agents: int,
        core: str = "asn-sublstm",
        seeds: Iterable[int] | None = None,
        env_kwargs: dict | None = None,
        device: str | torch.device = "cpu",
        asn: ASNParams | None = None,
        replay_steps: int = 50_000,
        bptt_steps: int | None = None,
        **hyperparams: Any,
    ) -> None:
        n_agents = check_int("n_agents", n_agents, 1)
        unknown = sorted(set(hyperparams) - set(HYPERPARAM_NAMES))
        if unknown:
            raise ValueError(f"unknown hyperparameters {unknown}; known: {list(HYPERPARAM_NAMES)}")
        if core not in CELLS:
            raise ValueError(f"unknown core {core!r}; choose one of {sorted(CELLS)}")
        seeds = list(range(n_agents)) if seeds is None else [check_seed(s) for s in seeds]
        if len(seeds) != n_agents:
            raise ValueError(f"got {len(seeds)} seeds for n_agents={n_agents}")
        if bptt_steps is not None:
            bptt_steps = check_int("bptt_steps", bptt_steps, 1)
        self.hp = Hyperparams(**hyperparams)
        self.hp.validate()
        self.env_id, self.env_kwargs = env_id, dict(env_kwargs or {})
        self.core, self.seeds, self.n_agents = core, seeds, n_agents
        self.asn = asn or ASNParams()
        self.device = torch.device(device)
        self.bptt_steps = bptt_steps
        hp, dev = self.hp, self.device

        self.envs = MemberEnv(env_id, seeds, hp.n_envs, dev, self.env_kwargs)
        self.obs_dim, self.n_actions = self.envs.obs_dim, self.envs.n_actions
        if self.n_actions > torch.iinfo(torch.int16).max:
            raise ValueError(f"the population replay stores actions as int16; {env_id} has {self.n_actions}")
        self.replay_steps = check_int("replay_steps", replay_steps, 1)
        longest = self.envs.max_steps
        if longest is not None and self.replay_steps < hp.n_envs * (longest + 1):
            raise ValueError(
                f"replay_steps={replay_steps} cannot hold n_envs={hp.n_envs} episodes of the env's "
                f"{longest} steps; use at least {hp.n_envs * (longest + 1)}"
            )
        networks = []
        for seed in seeds:
            with seeded_torch(seed):  # the initial weights AdvantageAgent(seed=seed) draws
                networks.append(
                    AdvantageNetwork(
                        self.obs_dim, self.n_actions, core, hp.n_hidden, hp.n_cells, self.asn, hp.input_gain
                    )
                )
        self.network = StackedNetwork(networks, dev)
        self.target_network = StackedNetwork(networks, dev) if hp.target_update_interval else None
        self.optimizer = StackedAdam(self.network.params, hp.learning_rate, hp.max_grad_norm)
        self.replay = MemberReplay(
            n_agents, hp.n_envs, self.obs_dim, self.replay_steps, hp.buffer_episodes, dev
        )
        self._explore = MemberStreams(seeds, "explore", dev)
        self._sampling = MemberStreams(seeds, "replay", dev)
        self._noise_generators = member_generators(seeds, "noise", dev)
        self._eval_rngs = [np.random.default_rng(derived_seed(s, "eval")) for s in seeds]
        self._eval_env: MemberEnv | None = None
        self._eval_key: tuple | None = None  # the members and episode count _eval_env serves

        self.num_timesteps = 0  # steps per member taken by the members still learning
        self.timesteps = np.zeros(n_agents, dtype=np.int64)  # per member (frozen once stopped)
        self.episodes = np.zeros(n_agents, dtype=np.int64)
        self.updates = np.zeros(n_agents, dtype=np.int64)
        self.started = np.zeros(n_agents, dtype=bool)  # updates have begun
        self.stopped = np.zeros(n_agents, dtype=bool)
        self.stop_reason: list[str | None] = [None] * n_agents
        self.history: list[list[dict[str, Any]]] = [[] for _ in range(n_agents)]
        self.train_wall_s = 0.0
        # the members whose envs, replay and streams run (row j of those arrays: member _live[j]):
        # all until members stop, then those still learning (see _drop_stopped)
        self._live = np.arange(n_agents)
        self._live_t = torch.as_tensor(self._live, device=self.device)
        self._obs = self._state = self._starts = None
        self._vec_steps = 0

    # --- acting ------------------------------------------------------------------------------------
    def epsilon(self) -> float:
        hp = self.hp
        return linear_schedule(hp.eps_start, hp.eps_end, 1.0, self.num_timesteps / max(1, hp.eps_decay_steps))

    def _vector_step(self) -> None:
        self._act_and_store()
        if self._vec_steps % self.hp.train_every == 0:
            for _ in range(self.hp.gradient_steps):
                self._update()

    def _drop_stopped(self) -> None:
        """Narrow the working arrays (envs, replay, explore and replay-sampling streams, recurrent
        state) to the live members that have not stopped; each kept member goes on where it was."""
        keep = ~self.stopped[self._live]
        if keep.all() or not keep.any():  # nothing to drop, or nothing left to run
            return
        positions = np.flatnonzero(keep)
        at = torch.as_tensor(positions, device=self.device)
        self.envs.keep(positions)
        self.replay.keep(at)
        self._explore.keep(positions)
        self._sampling.keep(positions)
        if self._obs is not None:
            self._obs, self._starts = self._obs.index_select(0, at), self._starts.index_select(0, at)
            self._state = tuple(x.index_select(0, at) for x in self._state)
        self._live = self._live[positions]
        self._live_t = torch.as_tensor(self._live, device=self.device)

    def _live_params(self) -> dict[str, torch.Tensor] | None:
        """The live members' weights (detached), None while every member is live."""
        if len(self._live) == self.n_agents:
            return None
        return {name: p.detach().index_select(0, self._live_t) for name, p in self.network.params.items()}

    def _live_mask(self) -> np.ndarray:
        """(S,) bool: the members whose envs, replay and streams still run."""
        mask = np.zeros(self.n_agents, dtype=bool)
        mask[self._live] = True
        return mask

    def _sync_episodes(self) -> None:
        """Episode counts of the live members still learning, from the replay."""
        learning = ~self.stopped[self._live]
        self.episodes[self._live[learning]] = self.replay.n_episodes.cpu().numpy()[learning]

    @torch.no_grad()
    def _act_and_store(self) -> None:
        hp = self.hp
        self._drop_stopped()
        if self._obs is None:
            self._obs = self.envs.reset()
            self._state = self.network.initial_state(hp.n_envs, len(self._live))
            self._starts = torch.ones(len(self._live), hp.n_envs, dtype=torch.bool, device=self.device)
        q, self._state = self.network.step(self._obs, self._state, self._starts, self._live_params())
        u = self._explore.uniform(hp.n_envs, 2)
        random_actions = (u[..., 1] * self.n_actions).long().clamp_(max=self.n_actions - 1)
        actions = torch.where(u[..., 0] < self.epsilon(), random_actions, q.argmax(-1))
        obs, reward, terminated, _, info = self.envs.step(actions)
        done = info["done"]
        self.replay.add(self._obs, actions, reward, done, terminated, info["final_obs"])
        self._obs, self._starts = obs, done
        self._vec_steps += 1
        active = self._live_mask() & ~self.stopped
        self.num_timesteps += hp.n_envs
        self.timesteps[active] += hp.n_envs
        if not self.started.all() or self._vec_steps % 64 == 0:
            self._sync_episodes()
        ready = updates_may_start(hp, self.timesteps, self.episodes)
        self.started |= ready & active

    # --- learning ----------------------------------------------------------------------------------
    def _training_noise(
        self, lengths: torch.Tensor, members: np.ndarray, rows: list[int] | None = None
    ) -> dict[str, torch.Tensor] | None:
        """Noise-aware training signals for a batch of ``members`` (row j: member ``members[j]``),
        each member's from its own generator (None if off): in the packed layout of ``rows``
        (S, N, ·), or padded (S, T+1, B, ·) without ``rows``.

        Each member draws noise for the steps of its own episodes only (obs 0 .. L of each), signal
        after signal (x, a, h, c), step after step, so that what it draws does not depend on the
        other members' episodes; padding stays zero.
        """
        hp = self.hp
        stds = {"x": hp.train_noise, "a": hp.train_noise, "h": hp.train_noise, "c": hp.train_cell_noise}
        widths = {"x": self.obs_dim, "a": hp.n_hidden, "h": hp.n_cells, "c": hp.n_cells}
        drawn = [name for name, std in stds.items() if std > 0]
        if not drawn:
            return None
        s, b = lengths.shape
        padded = rows is None
        if padded:
            rows = [b] * (int(lengths.max()) + 1)
        pos = packed_positions(rows, b, self.device)
        real = (pos // b).unsqueeze(0) <= lengths[:, pos % b]  # (S, N)
        counts = real.sum(1).tolist()
        at = real.view(-1).nonzero().squeeze(1)  # member after member, each member's steps in order
        generators = [self._noise_generators[k] for k in members]
        out = {}
        for name in drawn:
            # drawn straight at their scale into one array of the real steps (a member's share is a
            # contiguous slice), then copied into place: no mask, no scaled copy
            values = torch.empty(len(at), widths[name], device=self.device)
            lo = 0
            for generator, count in zip(generators, counts, strict=True):
                values[lo : lo + count].normal_(0.0, stds[name], generator=generator)
                lo += count
            part = values.new_zeros(s * len(pos), widths[name]).index_copy_(0, at, values)
            out[name] = part.view(s, len(rows), b, -1) if padded else part.view(s, len(pos), -1)
        return out

    def _member_losses(
        self,
        batch: dict[str, torch.Tensor],
        noise,
        members: torch.Tensor | None,
        rows: list[int],
        penalty_weight: torch.Tensor | float = 1.0,
    ) -> torch.Tensor:
        """Per-member loss of advantage(lambda) learning on a batch, as AdvantageAgent computes it,
        for all members or the stack ``members`` (indices) whose rows the batch holds; ``rows``
        (T+1 ints): the episodes still running at each step, the packed layout of the forward
        pass and of ``noise``; ``penalty_weight``: each member's weight of the rate penalties
        (:func:`~.settings.penalty_scale`)."""
        hp = self.hp

        def stack(network: StackedNetwork) -> dict[str, torch.Tensor] | None:
            return (
                None
                if members is None
                else {n: p.index_select(0, members) for n, p in network.params.items()}
            )

        penalties = hp.rate_penalty > 0 or hp.gate_rate_penalty > 0
        s, t_len, b, d = batch["obs"].shape
        pos = packed_positions(rows, b, self.device)

        def pack(x: torch.Tensor) -> torch.Tensor:
            return x.reshape(s, t_len * b, *x.shape[3:]).index_select(1, pos)

        def unpack(x: torch.Tensor) -> torch.Tensor:  # (S, N) -> (S, T+1, B), zeros where no row ran
            return x.new_zeros(s, t_len * b).index_copy(1, pos, x).view(s, t_len, b)

        def pack_steps(x: torch.Tensor) -> torch.Tensor:  # (S, T, B) per step -> (S, N), 0 at final obs
            return pack(torch.nn.functional.pad(x, (0, 0, 0, 1)))

        m = batch["mask"].to(batch["obs"].dtype)
        count = m.sum((1, 2)).clamp(min=1.0)
        # the loss and the rate penalties read the real steps (not the final obs), in the packed layout
        weights = pack_steps(m)
        obs = pack(batch["obs"])
        q_packed, _, act_sums = self.network.forward_packed(
            obs,
            rows,
            noise,
            with_acts=penalties,
            params=stack(self.network),
            act_weights=weights if penalties else None,
        )
        with torch.no_grad():
            target = self.target_network
            if target is not None:
                boot = target.forward_packed(obs, rows, with_acts=False, params=stack(target))[0]
            else:
                boot = q_packed
            values = unpack(boot.amax(-1)).transpose(0, 1)  # time-major (T+1, S, B)
            next_values = bootstrap_values(values, batch["terminated"].transpose(0, 1))
            returns = lambda_returns(
                batch["rewards"].transpose(0, 1),
                next_values,
                batch["continues"].transpose(0, 1),
                hp.gamma,
                hp.lam,
            )
            targets = pack_steps(advantage_targets(values[:-1], returns, hp.kappa).transpose(0, 1))
        taken = q_packed.gather(-1, pack_steps(batch["actions"]).unsqueeze(-1)).squeeze(-1)
        if hp.huber_delta:
            per_step = torch.nn.functional.huber_loss(taken, targets, reduction="none", delta=hp.huber_delta)
        else:
            per_step = 0.5 * (taken - targets).pow(2)
        loss = (per_step * weights).sum(1) / count
        widths = self.network.act_widths

        def mean_rate(names):
            found = [act_sums[k] / (count * widths[k]) for k in names if k in act_sums]
            return sum(found) / len(found) if found else 0.0

        if hp.rate_penalty > 0:
            loss = loss + hp.rate_penalty * penalty_weight * mean_rate(list(act_sums))
        if hp.gate_rate_penalty > 0:
            loss = loss + hp.gate_rate_penalty * penalty_weight * mean_rate(("cell_input", "input_gate"))
        return loss

    def _update(self) -> None:
        """One update of every learning member (the replay draw is taken whether or not any learns,
        so that each member's stream does not depend on the others)."""
        u = self._sampling.uniform(self.hp.batch_episodes)
        learning = self.started & ~self.stopped & self._live_mask()
        if not learning.any():
            return
        self.update_on(self.replay.sample(u), learning)

    def _penalty_weights(self, members: np.ndarray) -> torch.Tensor | float:
        """The rate penalties' weight of each of ``members`` now (1.0 when they apply from the start)."""
        if self.hp.rate_penalty_after is None:
            return 1.0
        weights = [penalty_scale(self.hp, self.history[k], int(self.timesteps[k])) for k in members]
        return torch.tensor(weights, dtype=torch.float32, device=self.device)

    def update_on(self, idx: torch.Tensor, learning: np.ndarray) -> torch.Tensor:
        """One gradient step of the ``learning`` (S,) members on replay entries ``idx`` (K, B) of
        the K live members (all S until members stop; row j: the j-th live member).

        Returns each member's loss (S,) before the step (0 for members not learning). Only the
        learning members' weights run forward and backward (the others' gradients are zero and the
        optimiser leaves them as they are). A learning member that is not live raises ValueError.
        """
        learning = np.asarray(learning, dtype=bool)
        on_live = learning[self._live]
        if on_live.sum() != learning.sum():
            dropped = sorted(set(np.flatnonzero(learning).tolist()) - set(self._live.tolist()))
            raise ValueError(f"members {dropped} have stopped (their replay is gone); they cannot learn")
        learning_t = torch.as_tensor(learning, device=self.device)
        members = self._live[on_live]
        subset = None if len(members) == self.n_agents else torch.as_tensor(members, device=self.device)
        on_t = torch.as_tensor(on_live, device=self.device)
        # longest first within each member, so that the forward pass can drop ended episodes
        lengths = self.replay.ep_len.gather(1, idx) * on_t.unsqueeze(1)
        idx = idx.gather(1, lengths.argsort(dim=1, descending=True, stable=True))
        if on_live.all():  # every live member learns: the batch holds their rows in order
            batch = self.replay.gather(idx, on_t, self.bptt_steps)
        else:  # the learning members' episodes only
            at = torch.as_tensor(np.flatnonzero(on_live), device=self.device)
            on = torch.ones(len(members), dtype=torch.bool, device=self.device)
            batch = self.replay.gather(idx.index_select(0, at), on, self.bptt_steps, at)
        steps = torch.arange(batch["obs"].shape[1], device=self.device)
        # episodes still running at each step (obs 0 .. L of an L-step episode): the packed layout
        rows = (batch["lengths"].unsqueeze(-1) >= steps).sum(1).amax(0).tolist()
        noise = self._training_noise(batch["lengths"], members, rows)
        member_losses = self._member_losses(batch, noise, subset, rows, self._penalty_weights(members))
        names = list(self.network.params)
        grads = torch.autograd.grad(member_losses.sum(), [self.network.params[n] for n in names])
        self.optimizer.step(dict(zip(names, grads, strict=True)), learning_t)
        losses = torch.zeros(self.n_agents, device=self.device)
        losses[torch.as_tensor(members, device=self.device)] = member_losses.detach()
        self.updates += learning
        interval = self.hp.target_update_interval
        if self.target_network is not None:
            due = learning & (self.updates % interval == 0)
            if due.any():
                self.target_network.copy_from(self.network, torch.as_tensor(due, device=self.device))
        return losses

    # --- evaluation --------------------------------------------------------------------------------
    @torch.no_grad()
    def evaluate(
        self, n_episodes: int = 100, members: Iterable[int] | None = None, max_steps: int = 100_000
    ) -> list[dict[str, float] | None]:
        """Deterministic evaluation, ``n_episodes`` episodes per member, the chosen members at once
        (the others cost nothing).

        Each evaluated member draws its episodes' seed from its own evaluation generator. Returns
        per member {success_rate, mean_return, mean_length}, None for members not in ``members``.
        """
        n_episodes = check_int("n_episodes", n_episodes, 1)
        chosen = np.zeros(self.n_agents, dtype=bool)
        chosen[list(range(self.n_agents)) if members is None else list(members)] = True
        which = np.flatnonzero(chosen)  # only these run: a member's episodes depend on its seed alone
        key = (tuple(which), n_episodes)
        if self._eval_env is None or self._eval_key != key:
            seeds = [self.seeds[k] for k in which]
            self._eval_env = MemberEnv(self.env_id, seeds, n_episodes, self.device, self.env_kwargs, "eval")
            self._eval_key = key
        env = self._eval_env
        obs = env.reset([int(self._eval_rngs[k].integers(2**31 - 1)) for k in which])
        params = None
        if len(which) < self.n_agents:
            at = torch.as_tensor(which, device=self.device)
            params = {name: p.detach().index_select(0, at) for name, p in self.network.params.items()}
        state = self.network.initial_state(n_episodes, len(which))
        shape = (len(which), n_episodes)
        alive = torch.ones(shape, dtype=torch.bool, device=self.device)
        success = torch.zeros(shape, dtype=torch.bool, device=self.device)
        returns = torch.zeros(shape, device=self.device)
        lengths = torch.zeros(shape, device=self.device)
        limit = min(max_steps, env.max_steps or max_steps)
        for _ in range(limit):
            q, state = self.network.step(obs, state, params=params)
            obs, reward, _, _, info = env.step(q.argmax(-1))
            returns += reward * alive
            lengths += alive
            success |= info["success"] & alive
            alive &= ~info["done"]
            if not alive.any():
                break
        rates = success.float().mean(1).tolist()
        mean_returns, mean_lengths = returns.mean(1).tolist(), lengths.mean(1).tolist()
        out: list[dict[str, float] | None] = [None] * self.n_agents
        for j, k in enumerate(which):
            out[k] = {
                "success_rate": rates[j],
                "mean_return": mean_returns[j],
                "mean_length": mean_lengths[j],
            }
        return out

    # --- the training loop -------------------------------------------------------------------------
    def learn(
        self,
        total_timesteps_per_agent: int,
        eval_interval: int = 5_000,
        eval_episodes: int = 100,
        stop_at_success: float | None = 0.95,
        stop_patience: int = 2,
        callback: Callable[[dict[str, Any]], bool | None] | None = None,
        progress_bar: bool = False,
        stop_at_return: float | None = None,
    ) -> Population:
        """Train every member ``total_timesteps_per_agent`` more steps, or until it stops.

        Every ``eval_interval`` steps (0: never) the members still learning are evaluated on
        ``eval_episodes`` episodes each; a member stops (is frozen) once its success rate has
        reached ``stop_at_success`` (None: never), or its mean return ``stop_at_return`` (None:
        never), in ``stop_patience`` evaluations in a row (the single agent's rule, :mod:`.stopping`).
        ``callback(event)`` gets {"event": "eval", "member": k, **record} for each member's
        evaluation and {"event": "stop", "member": k, "reason": ...}; returning False ends training
        for all. Training ends early once every member has stopped.
        """
        total = check_int("total_timesteps_per_agent", total_timesteps_per_agent, 1)
        stop_patience = check_int("stop_patience", stop_patience, 1)
        eval_episodes = check_int("eval_episodes", eval_episodes, 1)
        check_int("eval_interval", eval_interval, 0)
        if stop_at_success is not None:
            check_unit_interval("stop_at_success", stop_at_success)
        if stop_at_return is not None:
            check_number("stop_at_return", stop_at_return)
        rule = StopRule(stop_at_success, stop_at_return, stop_patience)
        end = self.num_timesteps + total
        next_eval = (self.num_timesteps // eval_interval + 1) * eval_interval if eval_interval else None
        bar = None
        if progress_bar:
            from tqdm.auto import tqdm

            bar = tqdm(total=total, unit="step/agent")
        t0 = time.perf_counter()
        start_wall = self.train_wall_s
        halted = False
        try:
            while self.num_timesteps < end and not self.stopped.all() and not halted:
                self._vector_step()
                if bar is not None:
                    bar.update(self.hp.n_envs)
                if next_eval is not None and self.num_timesteps >= next_eval:
                    next_eval += eval_interval
                    wall = start_wall + time.perf_counter() - t0
                    halted = self._periodic_eval(eval_episodes, wall, rule, callback)
                    if bar is not None:
                        bar.set_postfix(learning=int((~self.stopped).sum()), eps=f"{self.epsilon():.2f}")
        finally:
            self.train_wall_s = start_wall + time.perf_counter() - t0
            if bar is not None:
                bar.close()
        return self

    def _periodic_eval(self, n_episodes: int, wall_s: float, rule: StopRule, callback) -> bool:
        """Evaluate the members still learning; stop those the rule stops. True: a callback said stop."""
        self._sync_episodes()
        active = np.flatnonzero(~self.stopped)
        results = self.evaluate(n_episodes, members=active)
        halted = False
        for k in active:
            record = {
                "event": "eval",
                "timesteps": int(self.timesteps[k]),
                "episodes": int(self.episodes[k]),
                "wall_s": wall_s,
                "epsilon": self.epsilon(),
                **results[k],
            }
            self.history[k].append(record)
            if callback is not None and callback({"member": int(k), **record}) is False:
                halted = True
            reason = rule.reason(stop_history(self.hp, self.history[k]))
            if reason is not None:
                self.stopped[k] = True
                self.stop_reason[k] = reason
                if callback is not None:
                    event = {**record, "event": "stop", "member": int(k), "reason": reason}
                    halted = callback(event) is False or halted
        return halted

    # --- results -----------------------------------------------------------------------------------
    def steps_to(self, threshold: float = TARGET, key: str = "timesteps") -> list[float | None]:
        """Per member: ``key`` ("timesteps" or "wall_s") of its first evaluation at >= threshold."""
        out = []
        for records in self.history:
            hit = next((r for r in records if r["success_rate"] >= threshold), None)
            out.append(None if hit is None else hit[key])
        return out

    def summary(self, threshold: float = TARGET) -> dict[str, Any]:
        """Per-member outcome and the share of members that reached ``threshold``."""
        steps = self.steps_to(threshold)
        return {
            "env_id": self.env_id,
            "env_kwargs": self.env_kwargs,
            "core": self.core,
            "n_agents": self.n_agents,
            "seeds": self.seeds,
            "threshold": threshold,
            "steps_to_target": steps,
            "wall_s_to_target": self.steps_to(threshold, key="wall_s"),
            "reached": sum(s is not None for s in steps),
            "final_success": [h[-1]["success_rate"] if h else None for h in self.history],
            "timesteps": self.timesteps.tolist(),
            "train_wall_s": self.train_wall_s,
        }

    def member(self, k: int) -> AdvantageAgent:
        """Member ``k`` as an ordinary AdvantageAgent: its weights, Adam moments, counters, history.

        Its ``train_wall_s`` is the population's training wall-clock at the member's stop (the
        ``wall_s`` of the evaluation that stopped it), or so far while it still learns: the time its
        training took, shared with the other members.
        """
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 0 <= k < self.n_agents:
            raise ValueError(f"member index must be an integer in 0 .. {self.n_agents - 1}, got {k!r}")
        agent = AdvantageAgent(
            self.env_id,
            core=self.core,
            seed=self.seeds[k],
            env_kwargs=self.env_kwargs,
            device=self.device,
            asn=self.asn,
            **asdict(self.hp),
        )
        agent.network.load_state_dict(self.network.member_state(k))
        if agent.target_network is not None and self.target_network is not None:
            agent.target_network.load_state_dict(self.target_network.member_state(k))
        names = [name for name, _ in agent.network.named_parameters()]
        optim_state = agent.optimizer.state_dict()
        optim_state["state"] = self.optimizer.member_state(k, names)
        agent.optimizer.load_state_dict(optim_state)
        agent.num_timesteps = int(self.timesteps[k])
        agent.num_episodes = int(self.episodes[k])
        agent.num_updates = int(self.updates[k])
        agent.history = [dict(record) for record in self.history[k]]
        stopped_at = self.history[k][-1]["wall_s"] if self.stopped[k] and self.history[k] else None
        # the attribute behind AdvantageAgent.train_wall_s (read-only there), as its load() sets it
        agent._train_wall_s = float(self.train_wall_s if stopped_at is None else stopped_at)
        return agent
