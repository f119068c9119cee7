"""Episode replay of a whole population in a few tensors: each member samples only its own episodes.

Storage is one ring of ``slots`` steps per env row (member k owns rows 0 .. n_envs-1 of its own
block), written in lock-step: every env step writes one slot in every row (the observation acted
on, the action, the reward). An episode is therefore a contiguous range of its row's ring. A
per-member table (a ring of ``max_episodes`` records) says where each finished episode lies: row,
absolute start step, length, whether it terminated, and its final observation (the one after the
last step, which the auto-resetting env returns aside).

An episode can be sampled while its record is in the table and its slots have not been
overwritten (start >= steps written - slots), so capacity is bounded both in episodes (as in the
single agent) and in steps per member (``capacity_steps``): long early episodes (time-outs of a
policy that never reaches the goal) leave the replay as soon as newer steps need their room.

Batches are padded to the longest sampled episode, or cut at ``max_len`` steps: a cut episode ends
like a time-out (no termination), so its last target bootstraps from the value of the observation
at the cut, which the forward pass computes from the episode's true beginning.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor


class MemberReplay:
    """Finished episodes of S members x ``n_envs`` env rows; see the module docstring."""

    def __init__(
        self,
        n_members: int,
        n_envs: int,
        obs_dim: int,
        capacity_steps: int,
        max_episodes: int,
        device: torch.device,
    ) -> None:
        s, n, d = n_members, n_envs, obs_dim
        self.n_members, self.n_envs, self.obs_dim, self.max_episodes = s, n, d, max_episodes
        self.slots = max(1, math.ceil(capacity_steps / n_envs))
        self.device = device
        self.obs = torch.zeros(s, n, self.slots, d, device=device)
        # int16: a quarter of int64's memory (hundreds of members x 50,000 steps); discrete action
        # spaces of the tasks here have a handful of actions
        self.actions = torch.zeros(s, n, self.slots, dtype=torch.int16, device=device)
        self.rewards = torch.zeros(s, n, self.slots, device=device)
        # episode table; column max_episodes is a scratch slot for rows that did not end a step
        e = max_episodes + 1
        self.ep_row = torch.zeros(s, e, dtype=torch.long, device=device)
        self.ep_start = torch.zeros(s, e, dtype=torch.long, device=device)
        self.ep_len = torch.zeros(s, e, dtype=torch.long, device=device)
        self.ep_term = torch.zeros(s, e, dtype=torch.bool, device=device)
        self.ep_final = torch.zeros(s, e, d, device=device)
        self.n_episodes = torch.zeros(s, dtype=torch.long, device=device)  # ever added, per member
        self.row_start = torch.zeros(s, n, dtype=torch.long, device=device)  # of each running episode
        self.written = 0  # steps written in every row
        self._rows = torch.arange(n, device=device).expand(s, n)
        self._members = torch.arange(s, device=device).view(s, 1, 1)

    def add(
        self,
        obs: Tensor,
        actions: Tensor,
        rewards: Tensor,
        done: Tensor,
        terminated: Tensor,
        final_obs: Tensor,
    ) -> None:
        """Store one step of every row, (S, n, ...): obs acted on, action, reward; file the episodes
        that ended at this step (``done``), with ``terminated`` and ``final_obs`` of each."""
        slot = self.written % self.slots
        self.obs[:, :, slot] = obs
        self.actions[:, :, slot] = actions
        self.rewards[:, :, slot] = rewards
        rank = done.long().cumsum(1) - 1
        pos = torch.where(done, (self.n_episodes.unsqueeze(1) + rank) % self.max_episodes, self.max_episodes)
        self.ep_row.scatter_(1, pos, self._rows)
        self.ep_start.scatter_(1, pos, self.row_start)
        self.ep_len.scatter_(1, pos, self.written + 1 - self.row_start)
        self.ep_term.scatter_(1, pos, terminated)
        self.ep_final.scatter_(1, pos.unsqueeze(-1).expand(-1, -1, self.obs_dim), final_obs)
        self.n_episodes += done.sum(1)
        self.written += 1
        self.row_start = torch.where(done, self.written, self.row_start)

    def keep(self, positions: Tensor) -> None:
        """Keep the members at ``positions`` (K,) long only (in that order), with their episodes;
        the others' storage is freed."""
        per_member = ("obs", "actions", "rewards", "ep_row", "ep_start", "ep_len", "ep_term", "ep_final")
        for name in (*per_member, "n_episodes", "row_start"):
            setattr(self, name, getattr(self, name).index_select(0, positions))
        self.n_members = len(positions)
        self._rows = torch.arange(self.n_envs, device=self.device).expand(self.n_members, self.n_envs)
        self._members = torch.arange(self.n_members, device=self.device).view(-1, 1, 1)

    def valid(self) -> Tensor:
        """(S, max_episodes) bool: the table entries that can be sampled."""
        filled = torch.arange(self.max_episodes, device=self.device) < self.n_episodes.unsqueeze(1)
        intact = self.ep_start[:, : self.max_episodes] >= self.written - self.slots
        return filled & intact

    def sample(self, u: Tensor) -> Tensor:
        """Table indices (S, B), uniformly over each member's valid episodes, from uniforms u (S, B).

        Members without a valid episode get index 0 (a caller leaves them out of the update).
        """
        cdf = self.valid().long().cumsum(1)
        total = cdf[:, -1:]
        target = torch.minimum((u * total).long(), (total - 1).clamp(min=0))
        return torch.searchsorted(cdf, target, right=True).clamp_(max=self.max_episodes - 1)

    def gather(
        self, idx: Tensor, members: Tensor, max_len: int | None = None, subset: Tensor | None = None
    ) -> dict[str, Tensor]:
        """The sampled episodes as a padded batch, member-first.

        ``members`` (S,) bool: whose episodes count (the others get length 0, so that they neither
        lengthen the batch nor contribute a loss). ``subset`` (K,) long: the members whose rows
        ``idx`` (K, B) and ``members`` (K,) hold (default: all S, in order); the batch then holds
        those members only. Returns obs (K, T+1, B, D), actions, rewards, mask, terminated,
        continues (K, T, B) and lengths (K, B) (after the cut at ``max_len``).
        """

        def table(t: Tensor) -> Tensor:
            return t if subset is None else t.index_select(0, subset)

        length = table(self.ep_len).gather(1, idx) * members.unsqueeze(1)
        cut = length > max_len if max_len is not None else torch.zeros_like(length, dtype=torch.bool)
        eff = length.clamp(max=max_len) if max_len is not None else length
        t_len = int(eff.max())
        k, b = idx.shape
        start = table(self.ep_start).gather(1, idx)
        rows = table(self.ep_row).gather(1, idx).unsqueeze(1)
        who = self._members if subset is None else subset.view(-1, 1, 1)
        t = torch.arange(t_len + 1, device=self.device).view(1, -1, 1)
        # flat step indices (K, T+1, B) into the (S * n * slots) storage: one index_select / take
        # per array rather than advanced indexing with three index tensors
        at = (who * self.n_envs + rows) * self.slots + (start.unsqueeze(1) + t) % self.slots
        obs = self.obs.view(-1, self.obs_dim).index_select(0, at.view(-1)).view(k, t_len + 1, b, -1)
        end = eff.unsqueeze(1)
        # the obs after the last step: the stored final one (a cut episode keeps the obs at the cut)
        flat = obs.view(k, -1, self.obs_dim)
        last = (eff * b + torch.arange(b, device=self.device)).unsqueeze(-1).expand(-1, -1, self.obs_dim)
        final = table(self.ep_final).gather(1, idx.unsqueeze(-1).expand(-1, -1, self.obs_dim))
        flat.scatter_(1, last, torch.where(cut.unsqueeze(-1), flat.gather(1, last), final))
        obs.mul_((t <= end).unsqueeze(-1))
        steps = at[:, :-1]
        tt = t[:, :-1]
        mask = tt < end
        term = table(self.ep_term).gather(1, idx) & ~cut
        return {
            "obs": obs,
            "actions": self.actions.view(-1).take(steps).long() * mask,
            "rewards": self.rewards.view(-1).take(steps) * mask,
            "mask": mask,
            "terminated": (tt == end - 1) & term.unsqueeze(1),
            "continues": tt < end - 1,
            "lengths": eff,
        }
