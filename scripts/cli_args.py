"""The key=value parser, kept for scripts/train.py until it moves to the package command."""

from sublstm.experiments.config import parse_key_values  # noqa: F401
