"""The spiking twin of an ``asn-sublstm`` or ``asn-lstm`` AdvantageNetwork (SCIENCE.md section 5,
no retraining).

Every AF unit of the analog network becomes one ASN with the same incoming weights and its bias:

    population    n          input current                                   bias
    input         obs_dim    the observation itself, held for the whole step   0
    hidden        n_hidden   W_a . trace_input                                 b_a
    cell_input    H          W_z . trace_input + R_z . (trace_oc - trace_og)   b_z
    input_gate    H          W_i . trace_input + R_i . (trace_oc - trace_og)   b_i
    output_gate   H          W_o . trace_input + R_o . (trace_oc - trace_og)   b_o
    output_cell   H          c, the memory cell itself                         0

The memory cell (CEC) is an integrator, not a neuron: dc/dt = (trace_z - trace_i) / T with T the
simulated time of one analog step, so a step of steady input adds z - i as in c_t = c_{t-1} + z - i.
The action values are linear in the traces: q = W_q . [trace_hidden, trace_oc - trace_og] + b_q.

Multiplicative gating (``asn-lstm``: c_t = c_{t-1} + z*i, h_t = AF(c_t)*o) has the same neurons and
synapses; only the arithmetic where a gate meets a memory cell differs. The gate scales the
post-synaptic trace at the synapse instead of inhibiting: dc/dt = (trace_z * trace_i) / T, and
downstream of the cell (onto the gates, through the same recurrent delay, and onto the readout) the
signal is trace_oc * trace_og. This twin exists to test the paper's claim that such products convert
to spikes worse than differences (docs/gating.md).

All ASNs live in one (batch, N) state in the population order above, so with the torch engine one
dt of the whole network is one matrix product plus one elementwise :func:`asn_step` (only time is
a Python loop; any device). The kernel engine (:mod:`.kernel`, the default on the CPU) simulates a
whole decision in one compiled call with event-driven currents, on the same state and with the
same spikes. Populations update synchronously from the traces at the start of each dt (one dt of
synaptic delay), which is what lets a recurrent net be stepped without ordering its neurons.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import torch
from sublstm.agents.cores import ASNSubLSTM
from sublstm.agents.neuron import DEFAULT_ASN, ASNParams, unit_input_trace
from torch import Tensor, nn

from .asn import ASNState, asn_step, initial_state, reset_where
from .timing import TwinTiming, analog_timing

POPULATIONS = ("input", "hidden", "cell_input", "input_gate", "output_gate", "output_cell")
#: how :meth:`SpikingNetwork.step` simulates: "torch" (matrix products of traces every dt, any
#: device, the reference), "kernel" (the compiled event-driven engine of :mod:`.kernel`: CPU,
#: float32/float64, subtractive gating, no ``on_dt``), "auto" (the kernel where it applies)
ENGINES = ("auto", "torch", "kernel")
#: how a gate acts on the memory cell: "subtractive" (asn-sublstm) or "multiplicative" (asn-lstm)
GATINGS = ("subtractive", "multiplicative")


class SpikingState(NamedTuple):
    """State of a batch of spiking twins.

    neurons: all ASNs (batch, N); c: the memory cells (batch, H); h_delay: the recurrent signal
    (trace_oc - trace_og, or trace_oc * trace_og with multiplicative gating) of the last ``delay``
    dt steps, a ring buffer (batch, delay, H), empty without a recurrent delay; with the "hold"
    delay, the previous step's h averaged over its readout window (batch, 1, H); t: dt steps
    simulated (the ring buffer's clock, shared by the batch).
    """

    neurons: ASNState
    c: Tensor
    h_delay: Tensor
    t: int = 0


class StepResult(NamedTuple):
    """What one decision step of simulated time returns.

    q_end: action values at the last dt (batch, n_actions).
    q_mean: action values averaged over the readout window at the end of the step.
    c: memory-cell values at the end of the step (batch, H).
    spikes: spike counts per neuron during the step (batch, N).
    """

    q_end: Tensor
    q_mean: Tensor
    c: Tensor
    spikes: Tensor


class SpikingNetwork(nn.Module):
    """Continuous-time twin of an asn-sublstm (or asn-lstm) AdvantageNetwork; build it with
    :meth:`from_analog`.

    Args:
        w_hidden, b_hidden: the hidden layer, (n_hidden, obs_dim) and (n_hidden,).
        w_in, b_in: the gates' input weights, (3H, obs_dim) and (3H,), rows z, i, o.
        w_rec: the gates' recurrent weights, (3H, H).
        w_head, b_head: the linear head, (n_actions, n_hidden + H) and (n_actions,).
        params: ASN parameters (the analog network's).
        timing: dt, decision time ``step_ms``, readout window and recurrent delay
            (:class:`TwinTiming`, whose defaults every entry point shares). With a recurrent delay
            of 0 the loop closes within a step, whereas the analog gates at step t see h of step
            t-1; "step" delays the recurrent synapses by one step_ms; "hold" samples h over the
            previous step's readout window and holds it on the gates for the whole next step, so
            the gates see the settled h_{t-1}, not its time course.
        gating: "subtractive" (asn-sublstm, the default) or "multiplicative" (asn-lstm): whether
            the gates inhibit (differences of traces) or scale (products of traces) at the memory
            cell, see the module docstring.
        engine: one of :data:`ENGINES`; also the attribute ``engine``, which may be changed.
    """

    def __init__(
        self,
        w_hidden: Tensor,
        b_hidden: Tensor,
        w_in: Tensor,
        b_in: Tensor,
        w_rec: Tensor,
        w_head: Tensor,
        b_head: Tensor,
        params: ASNParams = DEFAULT_ASN,
        timing: TwinTiming | None = None,
        gating: str = "subtractive",
        engine: str = "auto",
    ) -> None:
        super().__init__()
        if gating not in GATINGS:
            raise ValueError(f"gating must be one of {GATINGS}, got {gating!r}")
        self.gating = gating
        self.engine = engine
        self._plan = None  # the kernel's layout of the weights, (key, KernelPlan)
        n_hidden, obs_dim = w_hidden.shape
        h3 = w_in.shape[0]
        if h3 % 3 or w_in.shape[1] != obs_dim or w_rec.shape != (h3, h3 // 3):
            raise ValueError(
                f"inconsistent gate weights: w_in {tuple(w_in.shape)}, w_rec {tuple(w_rec.shape)}, "
                f"obs_dim {obs_dim}"
            )
        n_cells = h3 // 3
        if w_head.shape[1] != n_hidden + n_cells:
            raise ValueError(f"w_head must have {n_hidden + n_cells} columns, got {tuple(w_head.shape)}")
        self.params = params
        self.obs_dim, self.n_hidden, self.n_cells, self.n_actions = (
            obs_dim,
            n_hidden,
            n_cells,
            w_head.shape[0],
        )
        sizes = (obs_dim, n_hidden, n_cells, n_cells, n_cells, n_cells)
        starts = [sum(sizes[:k]) for k in range(len(sizes))]
        self.slices = {p: slice(s, s + n) for p, s, n in zip(POPULATIONS, starts, sizes, strict=True)}
        self.n_neurons = sum(sizes)
        self.set_timing(TwinTiming() if timing is None else timing)

        sl = self.slices
        n = self.n_neurons
        f32 = {"dtype": torch.float32}
        # current into hidden + gates (rows) from every trace (columns); with multiplicative gating
        # the recurrent columns only mark which synapses exist (for fan_out): those act through
        # h = trace_oc * trace_og, see step
        w_syn = torch.zeros(n_hidden + h3, n, **f32)
        w_syn[:n_hidden, sl["input"]] = w_hidden
        w_syn[n_hidden:, sl["input"]] = w_in
        w_syn[n_hidden:, sl["output_cell"]] = w_rec
        w_syn[n_hidden:, sl["output_gate"]] = -w_rec  # h = out_cell - o: the gate inhibits
        # the same split in feed-forward and recurrent parts, for a delayed recurrent signal
        w_ff = w_syn.clone()
        w_ff[:, sl["output_cell"]] = 0.0
        w_ff[:, sl["output_gate"]] = 0.0
        w_rec_full = torch.zeros(n_hidden + h3, n_cells, **f32)
        w_rec_full[n_hidden:] = w_rec
        readout = torch.zeros(self.n_actions, n, **f32)
        readout[:, sl["hidden"]] = w_head[:, :n_hidden]
        readout[:, sl["output_cell"]] = w_head[:, n_hidden:]
        readout[:, sl["output_gate"]] = -w_head[:, n_hidden:]
        # multiplicative gating: h = trace_oc * trace_og is no linear map of the traces, so the
        # cells' head weights act on h separately; the synapses (and so fan_out) are the same
        head_cells_t = w_head[:, n_hidden:].T.detach().clone().float()
        readout_linear = readout.clone()
        if gating == "multiplicative":
            readout_linear[:, sl["output_cell"]] = 0.0
            readout_linear[:, sl["output_gate"]] = 0.0
        bias = torch.zeros(n, **f32)
        bias[sl["hidden"]] = b_hidden
        bias[sl["cell_input"].start : sl["output_gate"].stop] = b_in
        # targets per presynaptic neuron: currents, readout units, and the CEC for z and i
        fan_out = (w_syn != 0).sum(0) + (readout != 0).sum(0)
        fan_out[sl["cell_input"]] += 1
        fan_out[sl["input_gate"]] += 1
        self.register_buffer("w_syn", w_syn)
        self.register_buffer("w_ff", w_ff)
        self.register_buffer("w_rec", w_rec_full)
        # the same maps as (in, N) matrices over all N neurons, so that every current, the CEC
        # drive and the recurrent signal are one addmm each inside the dt loop (at small batches
        # the per-op overhead, not the arithmetic, sets the speed)
        rows = slice(sl["hidden"].start, sl["output_gate"].stop)
        full_syn = torch.zeros(n, n, **f32)
        full_syn[rows] = w_ff if gating == "multiplicative" else w_syn
        full_ff = torch.zeros(n, n, **f32)
        full_ff[rows] = w_ff
        rec_to_current = torch.zeros(n_cells, n, **f32)
        rec_to_current[:, rows] = w_rec_full.T
        obs_to_current = torch.zeros(obs_dim, n, **f32)
        obs_to_current[:, sl["input"]] = torch.eye(obs_dim)
        c_to_current = torch.zeros(n_cells, n, **f32)
        c_to_current[:, sl["output_cell"]] = torch.eye(n_cells)
        cec_drive = torch.zeros(n, n_cells, **f32)  # dc/dt * T = trace_z - trace_i
        cec_drive[sl["cell_input"]] = torch.eye(n_cells)
        cec_drive[sl["input_gate"]] = -torch.eye(n_cells)
        h_of_trace = torch.zeros(n, n_cells, **f32)  # h = trace_oc - trace_og
        h_of_trace[sl["output_cell"]] = torch.eye(n_cells)
        h_of_trace[sl["output_gate"]] = -torch.eye(n_cells)
        # the recurrent map split by target: z and i rows, o rows
        rec_zi, rec_o = rec_to_current.clone(), rec_to_current.clone()
        rec_zi[:, sl["output_gate"]] = 0.0
        rec_o[:, : sl["output_gate"].start] = 0.0
        for name, m in (
            ("_rec_zi_t", rec_zi),
            ("_rec_o_t", rec_o),
            ("_syn_t", full_syn.T),
            ("_ff_t", full_ff.T),
            ("_rec_t", rec_to_current),
            ("_obs_t", obs_to_current),
            ("_c_t", c_to_current),
            ("_cec", cec_drive),
            ("_h", h_of_trace),
            ("_readout_t", readout_linear.T),
            ("_head_cells_t", head_cells_t),
        ):
            self.register_buffer(name, m.contiguous(), persistent=False)
        self.register_buffer("readout", readout_linear)  # the part of q linear in the traces
        self.register_buffer("b_head", b_head.detach().clone().float())
        self.register_buffer("bias", bias)
        self.register_buffer("fan_out", fan_out.float())

    # --- construction ---------------------------------------------------------------------------
    @classmethod
    def from_analog(
        cls, network: nn.Module, timing: TwinTiming | None = None, engine: str = "auto", **changes
    ) -> SpikingNetwork:
        """Convert an AdvantageNetwork; its core must be spiking-convertible (asn-sublstm, asn-lstm).

        ``timing`` defaults to :class:`TwinTiming`; ``changes`` (TwinTiming field names: dt, step_ms,
        readout_window_ms, recurrent_delay_ms) replace single fields of it. The twin's gating
        follows the core's ``gating`` attribute ("subtractive" or "multiplicative"); ``engine`` is
        one of :data:`ENGINES`.
        """
        core = getattr(network, "core", None)
        gating = getattr(core, "gating", None)
        if gating == "multiplicative-bounded":  # asn-lstm-bounded: its twins are in .multiplicative
            from .multiplicative import multiplicative_twin

            twin = multiplicative_twin(network, "exact", timing, **changes)
            twin.engine = engine
            return twin
        # both conditions: the weights' layout (ASNSubLSTM's w_in, w_rec) and a gating we simulate
        if not (isinstance(core, ASNSubLSTM) and core.spiking_convertible and gating in GATINGS):
            name = getattr(network, "core_name", type(core).__name__)
            raise ValueError(
                f"core {name!r} has no spiking twin: only cores whose every unit is an ASN effective "
                "activation (AF), without a forget gate (asn-sublstm, asn-lstm), can be converted; "
                "sigmoid/tanh units have no ASN counterpart"
            )
        if "gating" in changes:
            raise ValueError(f"gating is set by the core ({gating!r}), not by an argument")
        timing = analog_timing(network, timing, **changes)
        with torch.no_grad():
            return cls(
                network.hidden.weight,
                network.hidden.bias,
                core.w_in.weight,
                core.w_in.bias,
                core.w_rec.weight,
                network.head.weight,
                network.head.bias,
                params=network.asn,
                timing=timing,
                gating=gating,
                engine=engine,
            ).to(network.head.weight.device)

    def set_timing(self, timing: TwinTiming) -> None:
        """Change the twin's timing (no weights depend on it; states made before a change of the
        recurrent delay are refused by :meth:`step`)."""
        if not isinstance(timing, TwinTiming):
            raise ValueError(f"timing must be a TwinTiming, got {type(timing).__name__}")
        self.timing = timing.validate()
        self._plan = None
        self.dt = float(timing.dt)
        self.steps_per_decision = round(timing.step_ms / self.dt)
        self.step_ms = self.steps_per_decision * self.dt
        self.readout_window_ms = float(timing.readout_window_ms)
        self.window_steps = max(1, round(self.readout_window_ms / self.dt))
        delay = timing.recurrent_delay_ms
        self.hold = delay == "hold"
        # dt steps of delay of the recurrent synapses onto z and i (rows "zi") and onto o ("o")
        self.delays = {"zi": timing.delay_steps(), "o": timing.delay_steps("output_gate_delay_ms")}
        # the ring buffer holds h of the last `delay_steps` dt (one slot: the held h)
        self.delay_steps = 1 if self.hold else max(self.delays.values())
        self.recurrent_delay = delay
        # the input code: current gain * obs, input synapses scaled by AF(1) / ASN trace at gain
        self.input_gain = float(timing.input_gain)
        self.input_scale = (
            1.0 if self.input_gain == 1.0 else 1.0 / unit_input_trace(self.input_gain, self.params)
        )
        self._trace_scale = None
        self.output_gate_delay = timing.output_gate_delay_ms
        n = self.steps_per_decision
        # the dt steps of a decision during which the memory cell integrates, and its gain there
        self.cec_steps = (
            round(timing.cec_from * n),
            max(round(timing.cec_from * n) + 1, round(timing.cec_to * n)),
        )
        self.cec_gain = 1.0 / (self.cec_steps[1] - self.cec_steps[0])

    # --- state ------------------------------------------------------------------------------------
    @property
    def device(self) -> torch.device:
        return self.bias.device

    @property
    def dtype(self) -> torch.dtype:
        """The dtype of the weights and of every state (float32 unless the twin was converted)."""
        return self.bias.dtype

    @property
    def engine(self) -> str:
        return self._engine

    @engine.setter
    def engine(self, engine: str) -> None:
        if not isinstance(engine, str) or engine not in ENGINES:
            raise ValueError(f"engine must be one of {ENGINES}, got {engine!r}")
        self._engine = engine

    def initial_state(self, batch_size: int) -> SpikingState:
        like = {"device": self.device, "dtype": self.dtype}
        neurons = initial_state((batch_size, self.n_neurons), **like)
        c = torch.zeros(batch_size, self.n_cells, **like)
        h_delay = torch.zeros(batch_size, self.delay_steps, self.n_cells, **like)
        return SpikingState(neurons, c, h_delay, 0)

    def reset(self, state: SpikingState, where: Tensor) -> SpikingState:
        """Return ``state`` with the rows where ``where`` (bool, (batch,)) is True at rest."""
        where = where.to(self.device, torch.bool)
        keep = (~where).to(state.c.dtype).unsqueeze(-1)
        return SpikingState(
            reset_where(state.neurons, where), state.c * keep, state.h_delay * keep.unsqueeze(-1), state.t
        )

    def population_counts(self, per_neuron: Tensor) -> dict[str, Tensor]:
        """Split a (..., N) tensor into its populations, summed over neurons."""
        return {p: per_neuron[..., s].sum(-1) for p, s in self.slices.items()}

    def readout_values(self, trace: Tensor) -> Tensor:
        """Action values from traces (batch, N) -> (batch, n_actions)."""
        q = torch.addmm(self.b_head, trace, self._readout_t)
        if self.gating == "multiplicative":
            q = torch.addmm(q, self.cell_output(trace), self._head_cells_t)
        return q

    def cell_output(self, trace: Tensor) -> Tensor:
        """The memory cells' output h from traces (batch, N) -> (batch, H): trace_oc - trace_og
        (subtractive) or trace_oc * trace_og (multiplicative)."""
        oc, og = trace[:, self.slices["output_cell"]], trace[:, self.slices["output_gate"]]
        return oc * og if self.gating == "multiplicative" else oc - og

    def cec_drive(self, trace: Tensor) -> Tensor:
        """What one step of steady traces adds to the memory cells (batch, H): trace_z - trace_i
        or trace_z * trace_i."""
        z, i = trace[:, self.slices["cell_input"]], trace[:, self.slices["input_gate"]]
        return z * i if self.gating == "multiplicative" else z - i

    # --- simulation -----------------------------------------------------------------------------
    def step(
        self,
        obs: Tensor,
        state: SpikingState,
        on_dt: Callable[[Tensor, SpikingState], None] | None = None,
    ) -> tuple[StepResult, SpikingState]:
        """Simulate one decision: ``step_ms`` of continuous time with ``obs`` (batch, obs_dim) held.

        ``on_dt(spikes, state)`` is called after every dt (for rasters and fine-grained plots; the
        torch engine only). ``engine`` chooses how (see :data:`ENGINES`); both give the same
        spikes and, up to rounding, the same values.
        """
        obs = obs.to(self.device, self.dtype)
        h_delay = state.h_delay
        if h_delay.shape[1] != self.delay_steps:
            raise ValueError(
                f"state has a recurrent delay of {h_delay.shape[1]} steps, the network {self.delay_steps}"
            )
        external = obs @ self._obs_t  # the observation is the input neurons' current all step
        if self.input_gain != 1.0:
            external = external * self.input_gain
        if self.hold:  # the held h of the previous step drives the gates all step
            external = torch.addmm(external, h_delay[:, 0], self._rec_t)
        if self._use_kernel(obs, state, on_dt):
            return self._step_kernel(external, state)
        return self._step_torch(external, state, on_dt)

    def kernel_refusal(
        self, obs: Tensor | None = None, state: SpikingState | None = None, on_dt=None
    ) -> str | None:
        """Why the kernel engine cannot run this step (None where it can)."""
        if self.device.type != "cpu":
            return f"it runs on the CPU, the twin is on {self.device}"
        if self.dtype not in (torch.float32, torch.float64):
            return f"it runs in float32 or float64, the twin is {self.dtype}"
        if self.gating != "subtractive" or type(self).cell_output is not SpikingNetwork.cell_output:
            return "it simulates subtractive gating only (products of traces are no traces)"
        if on_dt is not None:
            return "it cannot call on_dt after every dt"
        if obs is not None and obs.requires_grad:
            return "it does not record gradients"
        tensors = () if state is None else (*state.neurons, state.c, state.h_delay)
        if any(x.dtype != self.dtype or x.device != self.device for x in tensors):
            return f"the state is not all {self.dtype} on {self.device}"
        try:
            from . import kernel  # noqa: F401
        except ImportError as error:  # numba missing
            return f"numba cannot be imported ({error})"
        return None

    def _use_kernel(self, obs: Tensor, state: SpikingState, on_dt) -> bool:
        if self.engine == "torch":
            return False
        refusal = self.kernel_refusal(obs, state, on_dt)
        if refusal is not None and self.engine == "kernel":
            raise ValueError(f"engine 'kernel' cannot run this step: {refusal}; use engine 'torch' or 'auto'")
        return refusal is None

    def immediate_map(self) -> Tensor:
        """(N, N) weights (source, target) of the synapses that act without delay: the feed-forward
        ones where the recurrent synapses are delayed (or held), all of them otherwise
        (multiplicative gating: feed-forward only, the products act separately)."""
        return self._ff_t if self.delay_steps else self._syn_t

    def recurrent_groups(self) -> list[tuple[int, Tensor]]:
        """(delay in dt, (H, N) map of h onto the currents) per group of targets of the recurrent
        delay line; one group where both delays agree, none without a delay line."""
        if not self.delay_steps or self.hold:
            return []
        d_zi, d_o = self.delays["zi"], self.delays["o"]
        return [(d_zi, self._rec_t)] if d_zi == d_o else [(d_zi, self._rec_zi_t), (d_o, self._rec_o_t)]

    def _step_kernel(self, external: Tensor, state: SpikingState) -> tuple[StepResult, SpikingState]:
        from .kernel import build_plan, run_decision

        # the layout is rebuilt when a buffer is replaced (.to, .double) or changed in place
        key = tuple((id(b), b._version) for b in self.buffers())
        if self._plan is None or self._plan[0] != key:
            self._plan = (key, build_plan(self))
        *neurons, c, h_delay, counts, q_end, q_sum, h_sum = run_decision(
            self._plan[1], external, state, self.hold
        )
        if self.hold:
            h_delay = (h_sum / self.window_steps).unsqueeze(1)
        new = SpikingState(ASNState(*neurons), c, h_delay, state.t + self.steps_per_decision)
        return StepResult(q_end, q_sum / self.window_steps, c, counts), new

    def _step_torch(
        self, external: Tensor, state: SpikingState, on_dt: Callable[[Tensor, SpikingState], None] | None
    ) -> tuple[StepResult, SpikingState]:
        neurons, c, h_delay, t = state
        size = self.delay_steps
        hold = self.hold
        groups = self.recurrent_groups()
        if groups:
            h_delay = h_delay.clone()  # the ring buffer is written in place below
        cec_from, cec_to = self.cec_steps
        n = self.steps_per_decision
        first_window = n - self.window_steps
        counts = torch.zeros_like(neurons.trace)
        scale = self.trace_scale() if self.input_gain != 1.0 else None
        h_sum = None
        w_trace = self.immediate_map()
        mult = self.gating == "multiplicative"
        q_sum = None
        for k in range(n):
            trace = neurons.trace if scale is None else neurons.trace * scale
            current = torch.addmm(torch.addmm(external, c, self._c_t), trace, w_trace)
            if groups:
                h_now = self.cell_output(trace) if mult else trace @ self._h
                for d, rec in groups:
                    # what was written d dt steps ago (d = 0: h now)
                    h_then = h_now if d == 0 else h_delay[:, (t + k - d) % size]
                    current = torch.addmm(current, h_then, rec)
                h_delay[:, (t + k) % size] = h_now
            elif mult and not hold:  # no delay: the product acts at once
                current = torch.addmm(current, self.cell_output(trace), self._rec_t)
            if cec_from <= k < cec_to:  # the memory cell integrates during its window only
                if mult:
                    c = torch.add(c, self.cec_drive(trace), alpha=self.cec_gain)
                else:
                    c = torch.addmm(c, trace, self._cec, alpha=self.cec_gain)
            neurons, spikes = asn_step(neurons, current, self.bias, self.params, self.dt)
            counts = counts + spikes
            if k >= first_window:
                q = torch.addmm(self.b_head, neurons.trace, self._readout_t)
                if mult:
                    q = torch.addmm(q, self.cell_output(neurons.trace), self._head_cells_t)
                q_sum = q if q_sum is None else q_sum + q
                if hold:
                    h = self.cell_output(neurons.trace) if mult else neurons.trace @ self._h
                    h_sum = h if h_sum is None else h_sum + h
            if on_dt is not None:
                on_dt(spikes, SpikingState(neurons, c, h_delay, t + k + 1))
        if hold:
            h_delay = (h_sum / self.window_steps).unsqueeze(1)
        state = SpikingState(neurons, c, h_delay, t + n)
        return StepResult(q, q_sum / self.window_steps, c, counts), state

    def trace_scale(self) -> Tensor:
        """(N,) factors on the traces as synapses see them: ``input_scale`` for the input neurons."""
        if self._trace_scale is None or (self._trace_scale.device, self._trace_scale.dtype) != (
            self.device,
            self.dtype,
        ):
            scale = torch.ones(self.n_neurons, device=self.device, dtype=self.dtype)
            scale[self.slices["input"]] = self.input_scale
            self._trace_scale = scale
        return self._trace_scale

    def synops(self, spike_counts: Tensor) -> Tensor:
        """Synaptic events (one spike delivered to one target) for spike counts (..., N)."""
        return spike_counts @ self.fan_out
