"""Recurrent memory cores with one interface.

Every core maps an input sequence to a sequence of memory outputs h_t and exposes its unit
activations (for rate penalties and firing-rate estimates). Cores:

- ``asn-sublstm``: the paper's spiking-convertible cell (SCIENCE.md section 4). Every
  nonlinearity is the ASN effective activation AF, gates subtract, and there is no forget gate:
  ``c_t = c_{t-1} + z_t - i_t``, ``h_t = AF(c_t) - o_t``.
- ``sublstm``: Costa et al. (2017) with sigmoids and a forget gate:
  ``c_t = f_t * c_{t-1} + z_t - i_t``, ``h_t = sigmoid(c_t) - o_t``.
- ``asn-lstm``: the same AF units as ``asn-sublstm`` but multiplicative gates, no forget gate:
  ``c_t = c_{t-1} + z_t * i_t``, ``h_t = AF(c_t) * o_t`` (the control of the paper's claim).
- ``asn-lstm-bounded``: ``asn-lstm`` whose input and output gates are bounded in [0, 1] through
  the saturated ASN activation G = min(AF, 1) of :mod:`.gates` (the paper's earlier version).
- ``lstm``: torch's LSTM cell, the multiplicative reference.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from .gates import bounded_lstm_update
from .neuron import DEFAULT_ASN, ASNParams, af

State = tuple[Tensor, Tensor]


def zero_where(state: State, starts: Tensor) -> State:
    """The recurrent state with the rows where ``starts`` (B,) is True set to zero (episode starts)."""
    keep = (~starts).to(state[0].dtype).unsqueeze(-1)
    return tuple(s * keep for s in state)  # type: ignore[return-value]


class Core(nn.Module):
    """Base class: subclasses implement :meth:`step`; :meth:`forward` runs it over time."""

    #: whether every unit is an AF unit, so that the core has a spiking twin
    spiking_convertible: bool = False
    #: how the gates act on the memory cell, for the spiking converter: "subtractive",
    #: "multiplicative", or None where the core has no spiking twin
    gating: str | None = None
    #: names of the populations returned by :meth:`step` in its activation dict
    populations: tuple[str, ...] = ()

    def __init__(self, input_size: int, n_cells: int) -> None:
        super().__init__()
        if input_size < 1 or n_cells < 1:
            raise ValueError(f"input_size and n_cells must be >= 1, got {input_size} and {n_cells}")
        self.input_size = input_size
        self.n_cells = n_cells

    def initial_state(self, batch_size: int, device: torch.device | str | None = None) -> State:
        zeros = torch.zeros(batch_size, self.n_cells, device=device)
        return zeros, zeros.clone()

    def step(self, x: Tensor, state: State) -> tuple[Tensor, State, dict[str, Tensor]]:
        raise NotImplementedError

    def forward(
        self, xs: Tensor, state: State | None = None, resets: Tensor | None = None
    ) -> tuple[Tensor, State, dict[str, Tensor]]:
        """Run over ``xs`` of shape (T, B, input_size).

        ``resets`` (T, B) bool: where True, the state is zeroed before that step (an episode start).
        Returns the outputs (T, B, n_cells), the final state and the stacked activations (T, B, ·).
        """
        if state is None:
            state = self.initial_state(xs.shape[1], xs.device)
        outs, acts = [], []
        for t in range(xs.shape[0]):
            if resets is not None:
                state = zero_where(state, resets[t])
            h, state, a = self.step(xs[t], state)
            outs.append(h)
            acts.append(a)
        stacked = {k: torch.stack([a[k] for a in acts]) for k in acts[0]} if acts else {}
        return torch.stack(outs), state, stacked


class ASNSubLSTM(Core):
    """The paper's cell: AF units, subtractive input/output gates, no forget gate."""

    spiking_convertible = True
    gating = "subtractive"
    populations = ("cell_input", "input_gate", "output_gate", "output_cell")

    def __init__(self, input_size: int, n_cells: int, asn: ASNParams = DEFAULT_ASN) -> None:
        super().__init__(input_size, n_cells)
        self.asn = asn
        # rows [0:H) cell input z, [H:2H) input gate i, [2H:3H) output gate o
        self.w_in = nn.Linear(input_size, 3 * n_cells)
        self.w_rec = nn.Linear(n_cells, 3 * n_cells, bias=False)

    def step(self, x: Tensor, state: State) -> tuple[Tensor, State, dict[str, Tensor]]:
        h_prev, c_prev = state
        z, i, o = af(self.w_in(x) + self.w_rec(h_prev), self.asn).chunk(3, dim=-1)
        c = c_prev + z - i
        out_cell = af(c, self.asn)
        h = out_cell - o
        acts = {"cell_input": z, "input_gate": i, "output_gate": o, "output_cell": out_cell}
        return h, (h, c), acts


class ASNLSTM(ASNSubLSTM):
    """AF units with multiplicative input/output gates and no forget gate.

    Identical to :class:`ASNSubLSTM` in every respect but the gating, so that comparing the two
    isolates the effect of subtractive against multiplicative gating.
    """

    # its spiking twin scales post-synaptic traces at the synapse (sublstm.spiking.network)
    spiking_convertible = True
    gating = "multiplicative"

    def step(self, x: Tensor, state: State) -> tuple[Tensor, State, dict[str, Tensor]]:
        h_prev, c_prev = state
        z, i, o = af(self.w_in(x) + self.w_rec(h_prev), self.asn).chunk(3, dim=-1)
        c = c_prev + z * i
        out_cell = af(c, self.asn)
        h = out_cell * o
        acts = {"cell_input": z, "input_gate": i, "output_gate": o, "output_cell": out_cell}
        return h, (h, c), acts


class BoundedASNLSTM(ASNSubLSTM):
    """:class:`ASNLSTM` with bounded gates: i, o = min(AF, 1) in [0, 1] (:mod:`.gates`).

    Same weights, sizes and populations as the other ASN cells; its spiking twins live in
    :mod:`sublstm.spiking.multiplicative` (the gate's trace saturates at 1 where it multiplies).
    """

    spiking_convertible = True
    gating = "multiplicative-bounded"

    def step(self, x: Tensor, state: State) -> tuple[Tensor, State, dict[str, Tensor]]:
        h_prev, c_prev = state
        h, c, acts = bounded_lstm_update(self.w_in(x) + self.w_rec(h_prev), c_prev, self.asn)
        return h, (h, c), acts


class SubLSTM(Core):
    """Costa et al. (2017): sigmoid units, subtractive gates, a multiplicative forget gate."""

    populations = ("cell_input", "input_gate", "forget_gate", "output_gate", "output_cell")

    def __init__(self, input_size: int, n_cells: int) -> None:
        super().__init__(input_size, n_cells)
        self.w_in = nn.Linear(input_size, 4 * n_cells)
        self.w_rec = nn.Linear(n_cells, 4 * n_cells, bias=False)

    def step(self, x: Tensor, state: State) -> tuple[Tensor, State, dict[str, Tensor]]:
        h_prev, c_prev = state
        z, i, f, o = torch.sigmoid(self.w_in(x) + self.w_rec(h_prev)).chunk(4, dim=-1)
        c = f * c_prev + z - i
        out_cell = torch.sigmoid(c)
        h = out_cell - o
        acts = {"cell_input": z, "input_gate": i, "forget_gate": f, "output_gate": o, "output_cell": out_cell}
        return h, (h, c), acts


class LSTM(Core):
    """torch's LSTM cell (multiplicative gates, tanh), the reference."""

    populations = ("output",)

    def __init__(self, input_size: int, n_cells: int) -> None:
        super().__init__(input_size, n_cells)
        self.cell = nn.LSTMCell(input_size, n_cells)

    def step(self, x: Tensor, state: State) -> tuple[Tensor, State, dict[str, Tensor]]:
        h, c = self.cell(x, state)
        return h, (h, c), {"output": h}


CORES: dict[str, type[Core]] = {
    "asn-sublstm": ASNSubLSTM,
    "asn-lstm": ASNLSTM,
    "asn-lstm-bounded": BoundedASNLSTM,
    "sublstm": SubLSTM,
    "lstm": LSTM,
}


def make_core(name: str, input_size: int, n_cells: int, asn: ASNParams = DEFAULT_ASN) -> Core:
    """Build a core by name; unknown names raise ValueError listing the known ones."""
    if name not in CORES:
        raise ValueError(f"unknown core {name!r}; choose one of {sorted(CORES)}")
    cls = CORES[name]
    if issubclass(cls, ASNSubLSTM):
        return cls(input_size, n_cells, asn=asn)
    return cls(input_size, n_cells)
