"""The sublstm command itself: subcommands listed, overrides anywhere, one-line errors."""

from __future__ import annotations

import subprocess
import sys

import pytest
from sublstm.experiments.cli import COMMANDS, build_parser, main


def test_every_subcommand_has_help_and_shows_defaults():
    text = build_parser().format_help()
    for name in COMMANDS:
        assert name in text
    for name in COMMANDS:
        with pytest.raises(SystemExit) as exit_info:
            main([name, "--help"])
        assert exit_info.value.code == 0


def test_overrides_after_options_are_overrides(tmp_path, capsys):
    missing = tmp_path / "missing.pt"
    # the override follows an option: it must reach the command, which then fails on the checkpoint
    assert main(["compare", str(missing), "--episodes", "5", "twin.step_ms=200"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error:") and "missing.pt" in err[0]


def test_unknown_option_is_refused_by_the_parser():
    with pytest.raises(SystemExit) as exit_info:
        main(["compare", "x.pt", "--no-such-option"])
    assert exit_info.value.code == 2


def test_module_entry_point_runs_from_any_folder(tmp_path):
    out = subprocess.run(
        [sys.executable, "-m", "sublstm.experiments", "--help"], cwd=tmp_path, capture_output=True, text=True
    )
    assert out.returncode == 0 and "train" in out.stdout and "gating" in out.stdout
