"""Subcommands of the ``sublstm`` command, one module each (see :mod:`sublstm.experiments.cli`)."""
