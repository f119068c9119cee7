"""S advantage networks as one: weights stacked along a leading member dimension, run with batched
matrix products (one ``baddbmm`` per layer for all members), and the optimiser that trains them.

:class:`StackedNetwork` computes exactly what :class:`~sublstm.agents.network.AdvantageNetwork`
computes for each member (same parameter names, same noise-aware training signals), on tensors
shaped member-first: obs (S, T, B, obs_dim) -> advantages (S, T, B, n_actions). The input
projections of the hidden layer, the core and the head are computed for all T steps at once; only
the recurrent product and the cell update run inside the time loop.

torch.func.vmap over the AdvantageNetwork cannot be used instead: the AF activation is an
``autograd.Function`` without ``setup_context``, which functorch transforms refuse.

:class:`StackedAdam` is torch's Adam (elementwise, so per-member moments come for free from the
stacking) with gradient-norm clipping per member and a mask of the members that update.
"""

from __future__ import annotations

from collections import defaultdict

import torch
from torch import Tensor

from .gates import bounded_lstm_update
from .network import AdvantageNetwork
from .neuron import ASNParams, af, af_with_grad, input_code
from .population_af import af_train
from .population_cells import GATING, packed_positions, run_stacked_cells

State = tuple[Tensor, Tensor]
Noise = dict[str, Tensor]  # "x", "a", "h", "c": additive noise shaped like those signals, or absent


def _asn_sublstm(pre: Tensor, c: Tensor, asn: ASNParams):
    z, i, o = af(pre, asn).chunk(3, dim=-1)
    c = c + z - i
    out_cell = af(c, asn)
    return out_cell - o, c, {"cell_input": z, "input_gate": i, "output_gate": o, "output_cell": out_cell}


def _asn_lstm(pre: Tensor, c: Tensor, asn: ASNParams):
    z, i, o = af(pre, asn).chunk(3, dim=-1)
    c = c + z * i
    out_cell = af(c, asn)
    return out_cell * o, c, {"cell_input": z, "input_gate": i, "output_gate": o, "output_cell": out_cell}


def _sublstm(pre: Tensor, c: Tensor, asn: ASNParams):
    z, i, f, o = torch.sigmoid(pre).chunk(4, dim=-1)
    c = f * c + z - i
    out_cell = torch.sigmoid(c)
    acts = {"cell_input": z, "input_gate": i, "forget_gate": f, "output_gate": o, "output_cell": out_cell}
    return out_cell - o, c, acts


def _lstm(pre: Tensor, c: Tensor, asn: ASNParams):
    i, f, g, o = pre.chunk(4, dim=-1)  # torch.nn.LSTMCell's gate order
    c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
    h = torch.sigmoid(o) * torch.tanh(c)
    return h, c, {"output": h}


class _FusedSubtractive(torch.autograd.Function):
    """One asn-sublstm step (pre, c_prev) -> (h, c[, gates, out_cell]) as a single autograd node.

    Same values as :func:`_asn_sublstm`; the backward pass is written out (a handful of ops per
    step instead of autograd's dozen nodes), which pays where per-op overhead dominates (few
    members on a CPU, any number on a GPU). With ``with_acts`` the gate activations (z, i, o
    side by side) and AF(c) are outputs too, with gradients, for the rate penalties.
    """

    @staticmethod
    def forward(ctx, pre: Tensor, c_prev: Tensor, asn: ASNParams, with_acts: bool):
        g, dg = af_with_grad(pre, asn)
        z, i, o = g.chunk(3, dim=-1)
        c = c_prev + z - i
        out_cell, d_out = af_with_grad(c, asn)
        ctx.save_for_backward(dg, d_out)
        ctx.with_acts = with_acts
        return (out_cell - o, c, g, out_cell) if with_acts else (out_cell - o, c)

    @staticmethod
    def backward(ctx, dh: Tensor, dc: Tensor, *d_acts: Tensor):
        dg, d_out = ctx.saved_tensors
        d_gates, d_cell = d_acts if ctx.with_acts else (None, None)
        d_cell = dh if d_cell is None else dh + d_cell
        dc = dc + d_cell * d_out
        d_pre = torch.cat([dc, -dc, -dh], dim=-1)
        if d_gates is not None:
            d_pre = d_pre + d_gates
        return d_pre.mul_(dg), dc, None, None


class _FusedMultiplicative(torch.autograd.Function):
    """One asn-lstm step as a single autograd node (see :class:`_FusedSubtractive`)."""

    @staticmethod
    def forward(ctx, pre: Tensor, c_prev: Tensor, asn: ASNParams, with_acts: bool):
        g, dg = af_with_grad(pre, asn)
        z, i, o = g.chunk(3, dim=-1)
        c = c_prev + z * i
        out_cell, d_out = af_with_grad(c, asn)
        ctx.save_for_backward(dg, d_out, z, i, o, out_cell)
        ctx.with_acts = with_acts
        return (out_cell * o, c, g, out_cell) if with_acts else (out_cell * o, c)

    @staticmethod
    def backward(ctx, dh: Tensor, dc: Tensor, *d_acts: Tensor):
        dg, d_out, z, i, o, out_cell = ctx.saved_tensors
        d_gates, d_cell = d_acts if ctx.with_acts else (None, None)
        d_cell = dh * o if d_cell is None else dh * o + d_cell
        dc = dc + d_cell * d_out
        d_pre = torch.cat([dc * i, dc * z, dh * out_cell], dim=-1)
        if d_gates is not None:
            d_pre = d_pre + d_gates
        return d_pre.mul_(dg), dc, None, None


def _fused_step(fused, pre: Tensor, c: Tensor, asn: ASNParams, with_acts: bool):
    """(h, c, activations) of a fused step, the activations named as the unfused cells name them."""
    if not with_acts:
        h, c = fused.apply(pre, c, asn, False)
        return h, c, {}
    h, c, g, out_cell = fused.apply(pre, c, asn, True)
    z, i, o = g.chunk(3, dim=-1)
    return h, c, {"cell_input": z, "input_gate": i, "output_gate": o, "output_cell": out_cell}


#: cores whose training steps (gradients on) run as one fused autograd node
FUSED = {"asn-sublstm": _FusedSubtractive, "asn-lstm": _FusedMultiplicative}

# core name -> (cell update, input weight, input biases, recurrent weight) in AdvantageNetwork's names
_LINEAR_CORE = ("core.w_in.weight", ("core.w_in.bias",), "core.w_rec.weight")
_LSTM_CORE = ("core.cell.weight_ih", ("core.cell.bias_ih", "core.cell.bias_hh"), "core.cell.weight_hh")
CELLS = {
    "asn-sublstm": (_asn_sublstm, *_LINEAR_CORE),
    "asn-lstm": (_asn_lstm, *_LINEAR_CORE),
    "asn-lstm-bounded": (bounded_lstm_update, *_LINEAR_CORE),
    "sublstm": (_sublstm, *_LINEAR_CORE),
    "lstm": (_lstm, *_LSTM_CORE),
}


def _linear(x: Tensor, weight: Tensor, bias: Tensor | None) -> Tensor:
    """Per-member linear layer: x (S, N, in), weight (S, out, in), bias (S, out) -> (S, N, out)."""
    if bias is None:
        return torch.bmm(x, weight.transpose(1, 2))
    return torch.baddbmm(bias.unsqueeze(1), x, weight.transpose(1, 2))


def _time_stack(steps: list[Tensor], batch: int) -> Tensor:
    """Per-step outputs (S, rows_t, n) with non-increasing rows_t -> (S, T, batch, n), zeros where a
    step had fewer rows: one cat and one index_copy (not a pad per step)."""
    if all(x.shape[1] == batch for x in steps):
        return torch.stack(steps, dim=1)
    first = steps[0]
    s, n = first.shape[0], first.shape[-1]
    rows = torch.tensor([x.shape[1] for x in steps], device=first.device)
    within = torch.arange(batch, device=first.device)
    positions = (torch.arange(len(steps), device=first.device).unsqueeze(1) * batch + within)[
        within < rows.unsqueeze(1)
    ]
    out = first.new_zeros(s, len(steps) * batch, n).index_copy(1, positions, torch.cat(steps, dim=1))
    return out.view(s, len(steps), batch, n)


def _weighted_sums(acts: dict[str, Tensor], weights: Tensor) -> dict[str, Tensor]:
    """Per population, sum over steps, rows and units of the activations (S, ..., n) weighted by
    ``weights`` (S, ...) -> (S,)."""
    return {k: (a.sum(-1) * weights).flatten(1).sum(1) for k, a in acts.items()}


def _shape(net: AdvantageNetwork) -> tuple:
    """What members of one stack share: sizes, core, neuron and input code."""
    return (net.obs_dim, net.n_actions, net.core_name, net.n_hidden, net.n_cells, net.asn, net.input_gain)


class StackedNetwork:
    """The parameters of S AdvantageNetworks of one shape, stacked: ``params[name]`` is (S, *shape).

    ``params`` uses the AdvantageNetwork state-dict names, so :meth:`member_state` is a state dict
    that an AdvantageNetwork loads as it is.
    """

    def __init__(self, networks: list[AdvantageNetwork], device: torch.device | str = "cpu") -> None:
        if not networks:
            raise ValueError("StackedNetwork needs at least one network")
        first = networks[0]
        shape = _shape(first)
        for net in networks[1:]:
            if _shape(net) != shape:
                raise ValueError(f"networks differ in shape: {_shape(net)} vs {shape}")
        if first.core_name not in CELLS:
            raise ValueError(f"no stacked version of core {first.core_name!r}; known: {sorted(CELLS)}")
        self.obs_dim, self.n_actions, self.core_name, self.n_hidden, self.n_cells, self.asn = shape[:6]
        self.input_gain = shape[6]
        self.n_members = len(networks)
        self.device = torch.device(device)
        states = [net.state_dict() for net in networks]
        self.params: dict[str, Tensor] = {
            name: torch.stack([s[name].detach() for s in states]).to(self.device).requires_grad_()
            for name in states[0]
        }
        self._cell, self._w_in, self._b_in, self._w_rec = CELLS[self.core_name]
        #: units per population of the returned activations
        self.act_widths = defaultdict(lambda: self.n_cells, input=self.obs_dim, hidden=self.n_hidden)

    # --- members ---------------------------------------------------------------------------------
    def member_state(self, k: int) -> dict[str, Tensor]:
        """Member ``k``'s weights as an AdvantageNetwork state dict (detached copies)."""
        return {name: p[k].detach().clone() for name, p in self.params.items()}

    def copy_from(self, other: StackedNetwork, where: Tensor | None = None) -> None:
        """Copy ``other``'s weights into this one (only members where ``where`` (S,) is True)."""
        with torch.no_grad():
            for name, p in self.params.items():
                src = other.params[name]
                if where is None:
                    p.copy_(src)
                else:
                    p.copy_(torch.where(where.view(-1, *[1] * (p.dim() - 1)), src, p))

    def initial_state(self, batch_size: int, n_members: int | None = None) -> State:
        zeros = torch.zeros(n_members or self.n_members, batch_size, self.n_cells, device=self.device)
        return zeros, zeros.clone()

    # --- computing -------------------------------------------------------------------------------
    def forward(
        self,
        obs: Tensor,
        state: State | None = None,
        resets: Tensor | None = None,
        noise: Noise | None = None,
        with_acts: bool = True,
        rows_per_step: list[int] | None = None,
        params: dict[str, Tensor] | None = None,
        act_weights: Tensor | None = None,
    ) -> tuple[Tensor, State, dict[str, Tensor]]:
        """obs (S, T, B, obs_dim) -> advantages (S, T, B, n_actions), final state, activations.

        ``resets`` (S, T, B) bool zeroes the state before a step (an episode start). ``noise``
        holds additive noise for the noise-aware training of AdvantageNetwork.forward: "x" on the
        core's input units (S, T, B, obs_dim), "a" on the hidden layer as the head reads it,
        "h" and "c" on each step's memory output and cell (S, T, B, n_cells). The activations
        (S, T, B, ·) per population are noise-free, as AdvantageNetwork returns them; with
        ``with_acts`` False only "input" and "hidden" are returned (the loop skips the rest).

        ``rows_per_step`` (T ints, non-increasing) packs a batch of episodes sorted longest first:
        step t computes the recurrence of the first ``rows_per_step[t]`` rows of every member only,
        the others (episodes that have ended) get zero outputs and the returned state holds the
        rows of the last step.

        ``params`` (default: all members' ``self.params``) runs another stack of the same shapes,
        such as a subset of the members (``p[members]`` keeps the gradient path to ``self.params``).

        ``act_weights`` (S, T, B): return, per population, the weighted sum over steps, rows and
        units (S,) instead of the activation arrays: what a rate penalty needs, computed inside the
        cells' loop without the arrays where the cells run as one node.
        """
        p, asn = self.params if params is None else params, self.asn
        s, t_len, b, d = obs.shape
        noise = noise or {}
        if self._packed_ok(obs) and torch.is_grad_enabled() and state is None and resets is None:
            rows = [b] * t_len if rows_per_step is None else list(rows_per_step)
            pos = packed_positions(rows, b, obs.device)

            def pack(t: Tensor) -> Tensor:
                return t.reshape(s, t_len * b, *t.shape[3:]).index_select(1, pos)

            def unpack(t: Tensor) -> Tensor:
                full = t.new_zeros(s, t_len * b, *t.shape[2:]).index_copy(1, pos, t)
                return full.view(s, t_len, b, *t.shape[2:])

            q, state, acts = self.forward_packed(
                pack(obs),
                rows,
                {k: pack(v) for k, v in noise.items()},
                with_acts,
                params,
                None if act_weights is None else pack(act_weights),
            )
            return (
                unpack(q),
                state,
                acts if act_weights is not None else {k: unpack(v) for k, v in acts.items()},
            )
        x = input_code(obs, asn, self.input_gain)
        a = af(_linear(x.reshape(s, t_len * b, d), p["hidden.weight"], p["hidden.bias"]), asn)
        x_core = x + noise["x"] if "x" in noise else x
        bias = sum(p[name] for name in self._b_in)
        pre_in = _linear(x_core.reshape(s, t_len * b, d), p[self._w_in], bias).view(s, t_len, b, -1)
        # one unbind, not pre_in[:, t] per step: each slice's backward would fill a zero tensor of
        # pre_in's full size, T times per update
        pre_steps = pre_in.unbind(1)
        w_rec_t = p[self._w_rec].transpose(1, 2)
        h, c = self.initial_state(b, s) if state is None else state
        fused = FUSED.get(self.core_name) if torch.is_grad_enabled() else None
        outs, acts = [], []
        for t in range(t_len):
            rows = b if rows_per_step is None else rows_per_step[t]
            if rows < h.shape[1]:
                h, c = h[:, :rows], c[:, :rows]
            if resets is not None:
                keep = (~resets[:, t]).to(obs.dtype).unsqueeze(-1)
                h, c = h * keep, c * keep
            pre = torch.baddbmm(pre_steps[t][:, :rows], h, w_rec_t)
            if fused is not None:
                h, c, step_acts = _fused_step(fused, pre, c, asn, with_acts)
            else:
                h, c, step_acts = self._cell(pre, c, asn)
            if "h" in noise:
                h = h + noise["h"][:, t, :rows]
            if "c" in noise:
                c = c + noise["c"][:, t, :rows]
            outs.append(h)
            if with_acts:
                acts.append(step_acts)
        hs = _time_stack(outs, b)  # (S, T, B, C)
        q = self._head(p, a.view(s, t_len, b, -1), hs, noise)
        out_acts = {"input": x, "hidden": a.view(s, t_len, b, -1)}
        if with_acts and acts:
            out_acts.update({k: _time_stack([st[k] for st in acts], b) for k in acts[0]})
        if act_weights is not None:
            out_acts = _weighted_sums(out_acts, act_weights)
        return q, (h, c), out_acts

    def _packed_ok(self, obs: Tensor) -> bool:
        """Whether :meth:`forward_packed` runs the cells as one node (:mod:`.population_cells`):
        float32 CPU tensors and a core that has such a node."""
        return self.core_name in GATING and obs.device.type == "cpu" and obs.dtype == torch.float32

    def forward_packed(
        self,
        obs: Tensor,
        rows: list[int],
        noise: Noise | None = None,
        with_acts: bool = True,
        params: dict[str, Tensor] | None = None,
        act_weights: Tensor | None = None,
    ) -> tuple[Tensor, State, dict[str, Tensor]]:
        """:meth:`forward` from a zero state over episodes sorted longest first, in the packed
        layout of ``rows`` (:func:`~sublstm.agents.population_cells.packed_positions`: step t's
        first ``rows[t]`` rows, step after step): obs (S, N, obs_dim), noise and ``act_weights``
        (S, N, ·) -> advantages (S, N, n_actions), the last step's state, activations (S, N, ·) or,
        with ``act_weights``, their weighted sums (S,). Only the rows that run are computed, in
        every layer; the training pass of the population.
        """
        p, asn = self.params if params is None else params, self.asn
        s, n_rows, d = obs.shape
        noise = noise or {}
        if not self._packed_ok(obs):  # the step-by-step loop over the padded layout
            b, t_len = rows[0], len(rows)
            pos = packed_positions(rows, b, obs.device)

            def unpack(t: Tensor) -> Tensor:
                full = t.new_zeros(s, t_len * b, *t.shape[2:]).index_copy(1, pos, t)
                return full.view(s, t_len, b, *t.shape[2:])

            weights = None if act_weights is None else unpack(act_weights)
            q, state, acts = self.forward(
                unpack(obs),
                None,
                None,
                {k: unpack(v) for k, v in noise.items()},
                with_acts,
                rows,
                params,
                weights,
            )
            if weights is None:
                acts = {k: v.reshape(s, t_len * b, -1).index_select(1, pos) for k, v in acts.items()}
            return q.reshape(s, t_len * b, -1).index_select(1, pos), state, acts
        x = input_code(obs, asn, self.input_gain)
        a = af_train(_linear(x, p["hidden.weight"], p["hidden.bias"]), asn)
        x_core = x + noise["x"] if "x" in noise else x
        pre_in = _linear(x_core, p[self._w_in], sum(p[name] for name in self._b_in))
        weights = act_weights if with_acts else None
        hs, c, *cell_acts = run_stacked_cells(
            self.core_name,
            pre_in,
            p[self._w_rec],
            rows,
            asn,
            noise.get("h"),
            noise.get("c"),
            with_acts,
            weights,
        )
        last = rows[-1] if rows else 0
        state = (hs[:, n_rows - last :], c[:, :last])
        q = self._head(p, a, hs, noise)
        acts = {"input": x, "hidden": a}
        if act_weights is not None:
            acts = _weighted_sums(acts, act_weights)
            if with_acts:
                z, i, o, u = cell_acts[0].view(s, 4, -1).sum(-1).unbind(1)
                acts.update(cell_input=z, input_gate=i, output_gate=o, output_cell=u)
        elif with_acts:
            gates, out_cell = cell_acts
            z, i, o = gates.chunk(3, dim=-1)
            acts.update(cell_input=z, input_gate=i, output_gate=o, output_cell=out_cell)
        return q, state, acts

    def _head(self, p: dict[str, Tensor], a: Tensor, hs: Tensor, noise: Noise) -> Tensor:
        """Advantages (S, ..., n_actions) from the hidden layer a and the cells' hs (S, ..., ·)."""
        a_read = a + noise["a"].view(a.shape) if "a" in noise else a
        # W [a; h] + bias as two products: no concatenated copy of both (nor its slicing backward)
        w_a, w_h = p["head.weight"].split([a.shape[-1], hs.shape[-1]], dim=-1)
        s, width = hs.shape[0], hs.shape[-1]
        q = _linear(a_read.reshape(s, -1, a.shape[-1]), w_a, p["head.bias"])
        q = q.baddbmm(hs.reshape(s, -1, width), w_h.transpose(1, 2))
        return q.view(*hs.shape[:-1], -1)

    @torch.no_grad()
    def step(
        self,
        obs: Tensor,
        state: State,
        resets: Tensor | None = None,
        params: dict[str, Tensor] | None = None,
    ) -> tuple[Tensor, State]:
        """One acting step: obs (S, B, obs_dim) -> advantages (S, B, n_actions), next state
        (``params``: another stack, as in :meth:`forward`); ``resets`` (S, B) zeroes the state first.

        :meth:`forward` for one step without noise, written out: a third of its operations, which
        is what an acting step costs at these sizes.
        """
        p, asn = self.params if params is None else params, self.asn
        h, c = state
        if resets is not None:
            keep = (~resets).unsqueeze(-1).to(obs.dtype)
            h, c = h * keep, c * keep
        x = input_code(obs, asn, self.input_gain)
        a = af(_linear(x, p["hidden.weight"], p["hidden.bias"]), asn)
        bias = p[self._b_in[0]] if len(self._b_in) == 1 else sum(p[name] for name in self._b_in)
        pre = _linear(x, p[self._w_in], bias).baddbmm_(h, p[self._w_rec].transpose(1, 2))
        h, c, _ = self._cell(pre, c, asn)
        return self._head(p, a, h, {}), (h, c)


class StackedAdam:
    """Adam over stacked parameters with per-member gradient-norm clipping and an update mask.

    Equal, member by member, to ``clip_grad_norm_(member params, max_grad_norm)`` followed by
    ``torch.optim.Adam(lr, betas, eps)``; members outside ``active`` keep weights, moments and step
    count unchanged, as if they had not taken part. The moments of all parameters live in one
    (S, P) array each (``exp_avg[name]`` and ``exp_avg_sq[name]`` are views into them), so that a
    step is a dozen operations on all parameters at once rather than a dozen per parameter.
    """

    def __init__(
        self,
        params: dict[str, Tensor],
        lr: float,
        max_grad_norm: float,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
    ) -> None:
        self.params = params
        self.lr, self.max_grad_norm, self.betas, self.eps = lr, max_grad_norm, betas, eps
        first = next(iter(params.values()))
        s = first.shape[0]
        self.steps = torch.zeros(s, device=first.device)  # per member
        # each parameter's columns in the flat arrays, and its shape
        self._spans: dict[str, tuple[int, int, torch.Size]] = {}
        lo = 0
        for name, p in params.items():
            self._spans[name] = (lo, lo + p[0].numel(), p.shape)
            lo += p[0].numel()
        self._m, self._v = first.new_zeros(s, lo), first.new_zeros(s, lo)
        self.exp_avg = self._unflat(self._m)
        self.exp_avg_sq = self._unflat(self._v)

    def _flat(self, tensors) -> Tensor:
        s = self._m.shape[0]
        return torch.cat([t.reshape(s, -1) for t in tensors], dim=1)

    def clip(self, grads: dict[str, Tensor]) -> tuple[dict[str, Tensor], Tensor]:
        """Scale each member's gradients to a total norm of at most max_grad_norm; -> grads, norms (S,)."""
        flat, norms = self._clipped(grads)
        return self._unflat(flat), norms

    def _clipped(self, grads: dict[str, Tensor]) -> tuple[Tensor, Tensor]:
        flat = self._flat(grads[name] for name in self.params)
        norms = flat.square().sum(1).sqrt()
        coef = (self.max_grad_norm / (norms + 1e-6)).clamp(max=1.0)
        return flat.mul_(coef.unsqueeze(1)), norms

    def _unflat(self, flat: Tensor) -> dict[str, Tensor]:
        return {name: flat[:, lo:hi].view(shape) for name, (lo, hi, shape) in self._spans.items()}

    @torch.no_grad()
    def step(self, grads: dict[str, Tensor], active: Tensor) -> Tensor:
        """Clip per member, then one Adam step for the ``active`` (S,) bool members; -> grad norms (S,)."""
        g, norms = self._clipped(grads)
        beta1, beta2 = self.betas
        self.steps = self.steps + active.to(self.steps.dtype)
        steps = self.steps.clamp(min=1.0)
        step_size = (self.lr / (1.0 - beta1**steps)).unsqueeze(1)
        bias2_sqrt = (1.0 - beta2**steps).sqrt().unsqueeze(1)
        on = active.unsqueeze(1)
        m, v = self._m, self._v
        p = self._flat(self.params.values())
        new_m = m.lerp(g, 1.0 - beta1)
        new_v = v * beta2 + (1.0 - beta2) * g * g
        denom = new_v.sqrt() / bias2_sqrt + self.eps
        new_p = p - step_size * new_m / denom
        m.copy_(torch.where(on, new_m, m))
        v.copy_(torch.where(on, new_v, v))
        for param, value in zip(
            self.params.values(), self._unflat(torch.where(on, new_p, p)).values(), strict=True
        ):
            param.copy_(value)
        return norms

    def member_state(self, k: int, names: list[str]) -> dict[int, dict[str, Tensor]]:
        """Member ``k``'s moments as the ``state`` of a torch Adam over parameters in ``names`` order."""
        step = torch.tensor(float(self.steps[k]))
        return {
            i: {
                "step": step,
                "exp_avg": self.exp_avg[n][k].clone(),
                "exp_avg_sq": self.exp_avg_sq[n][k].clone(),
            }
            for i, n in enumerate(names)
        }
