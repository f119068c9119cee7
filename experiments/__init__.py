"""Experiments over the package: training runs with logging, runners over a resumable store
(validation, twin acceptance, the gating grid, benchmarks), reporting, and the ``sublstm`` command.

Arrows run one way: ``sublstm.experiments`` imports ``sublstm.agents``, ``sublstm.spiking`` and
``sublstm.envs``; none of those imports this package.
"""
