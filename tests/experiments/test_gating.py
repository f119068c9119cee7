"""The gating grid (sublstm.experiments.gating): cells, resuming from stored runs, the doc rendered
from them (the committed docs/gating.md from docs/gating_runs/), the command, and a tiny real grid.

Most tests replace training by fakes (a real run takes minutes); one runs a tiny grid for real.
"""

import argparse
import dataclasses
import json
import re
import shutil
from pathlib import Path

import pytest
from sublstm.experiments import gating
from sublstm.experiments.cli import build_parser, main
from sublstm.experiments.commands import gating as command
from sublstm.experiments.gating import FULL, QUICK, GatingBudget, GatingGrid, GridStore, run_grid
from sublstm.experiments.gating_report import render

ROOT = Path(__file__).resolve().parents[2]
TINY = GatingBudget(rl_cap_timesteps=32, test_episodes=2, seq_updates=20, test_sequences=4)


@pytest.fixture()
def fake(monkeypatch):
    """Training and measuring replaced by a fake whose asn-lstm twin loses 0.1 success."""
    calls = []

    def run(cell):
        p = cell.params
        calls.append(cell.name)
        gap = 0.1 if p["core"] == "asn-lstm" else 0.0
        result = {
            "analog_success": 1.0,
            "spiking_success": 1.0 - gap,
            "agreement": 1.0 - gap / 2,
            "agreement_final": 1.0 - gap,
            "mean_rate_hz": 50.0 + p["seed"],
            "twin": {"step_ms": 300.0, "dt_ms": 1.0, "readout_window_ms": 10.0, "recurrent_delay": "step"},
        }
        if p["task"] == "tmaze":
            return result | {"timesteps": 20_000, "timesteps_to_stop": 20_000 if p["seed"] else None}
        return result | {"updates": cell.settings["seq_updates"], "spiking_final_xy": 1.0}

    monkeypatch.setattr(gating, "run_tmaze", run)
    monkeypatch.setattr(gating, "run_sequence", run)
    return calls


def stored(folder: Path) -> list[str]:
    return sorted(p.stem for p in folder.glob("*.json") if not p.name.startswith("_"))


def test_grid_covers_both_cells_every_noise_and_seed():
    cells = FULL.cells()
    assert len(cells) == 5 * 2 * 5 + 2 * 2 * 5
    assert len({c.name for c in cells}) == len(cells)  # one stored file per run
    tmaze = [c for c in cells if c.params["task"] == "tmaze"]
    assert {c.params["noise"] for c in tmaze} == {0.0, 0.25, 0.5, 0.75, 1.0}
    assert {c.params["core"] for c in cells} == {"asn-sublstm", "asn-lstm"}
    assert all(c.settings["corridor"] == 10 for c in tmaze)
    assert len(QUICK.cells()) < len(cells)


def test_the_first_stored_runs_are_read_with_their_old_budget_dict():
    """docs/gating_runs/ stored the budget as "budget"; the full grid still finds all 70 of them."""
    store = GridStore(ROOT / "docs" / "gating_runs")
    assert [c.name for c in FULL.cells() if store.get(c.name, c.settings) is None] == []
    changed = dataclasses.replace(FULL, budget=dataclasses.replace(FULL.budget, test_episodes=99))
    assert all(store.get(c.name, c.settings) is None for c in changed.cells())
    longer = dataclasses.replace(FULL, corridor=20)
    assert store.get(longer.cells()[0].name, longer.cells()[0].settings) is None


def test_render_reproduces_the_committed_doc_from_the_stored_runs(tmp_path, monkeypatch):
    monkeypatch.chdir(ROOT)  # the doc names the runs folder relative to the current folder
    doc = tmp_path / "gating.md"
    shutil.copy(ROOT / "docs" / "gating.md", doc)  # its hand-written reading is kept
    render(FULL, ROOT / "docs" / "gating_runs", doc, tmp_path / "gating.png")
    assert doc.read_text() == (ROOT / "docs" / "gating.md").read_text()
    assert (tmp_path / "gating.png").stat().st_size > 0


def test_runs_are_stored_resumed_and_rendered(fake, tmp_path):
    runs, doc = tmp_path / "runs", tmp_path / "gating.md"
    records = run_grid(QUICK, runs)
    n = len(QUICK.cells())
    assert len(fake) == n and len(records) == n and stored(runs) == sorted(records)
    assert json.loads((runs / "_config.json").read_text())["budget"]["seq_updates"] == 500
    render(QUICK, runs, doc)
    text = doc.read_text()
    assert (tmp_path / "gating.png").stat().st_size > 0
    # the table is computed from the stored runs: asn-lstm's fake spiking success is 0.9
    assert "| 1 | asn-lstm | 1.00 ± 0.00 | 0.90 ± 0.00 |" in text
    assert "asn-lstm (multiplicative): analog − spiking success by noise — 0: +0.10, 1: +0.10" in text
    assert "Runs stored: 8 of 8." in text

    # a rerun does nothing; a deleted run is redone, alone
    run_grid(QUICK, runs)
    assert len(fake) == n
    victim = runs / f"{stored(runs)[0]}.json"
    victim.unlink()
    run_grid(QUICK, runs)
    assert len(fake) == n + 1 and victim.exists()
    sessions = json.loads((runs / "_sessions.json").read_text())
    assert [s["runs"] for s in sessions] == [n, 1]  # sessions that ran nothing are not recorded

    # a changed budget makes every stored run stale
    bigger = dataclasses.replace(QUICK, budget=dataclasses.replace(QUICK.budget, test_episodes=51))
    run_grid(bigger, runs)
    assert len(fake) == 2 * n + 1


def test_hand_written_reading_survives_a_rerender(fake, tmp_path):
    runs, doc = tmp_path / "runs", tmp_path / "gating.md"
    run_grid(QUICK, runs)
    render(QUICK, runs, doc)
    doc.write_text(doc.read_text().replace("(not written yet)", "Gating matters here."))
    render(QUICK, runs, doc)
    assert "Gating matters here." in doc.read_text()


def parse(*argv: str) -> argparse.Namespace:
    return build_parser().parse_args(["gating", *argv])


def test_command_runs_the_quick_grid_with_overrides_then_renders(fake, tmp_path, capsys):
    runs, doc = tmp_path / "runs", tmp_path / "doc" / "gating.md"
    args = parse("--quick", "--runs-dir", str(runs), "--doc", str(doc), "grid.noises=[0.5]", "grid.seeds=[3]")
    assert command.run(args) == 0
    assert stored(runs) == sorted(
        ["tmaze-n0.50-asn-sublstm-s3", "tmaze-n0.50-asn-lstm-s3"]
        + [f"{t}-{c}-s3" for t in ("seq2a", "seq2b") for c in ("asn-sublstm", "asn-lstm")]
    )
    assert doc.is_file() and (doc.parent / "gating.png").is_file()
    assert f"wrote {doc}" in capsys.readouterr().out
    calls = len(fake)
    assert command.run(parse(*vars(args)["overrides"], "--quick", "--render", "--runs-dir", str(runs),
                             "--doc", str(doc))) == 0  # fmt: skip
    assert len(fake) == calls  # --render runs nothing


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--jobs", "0"], "jobs must be a positive integer"),
        (["grid.noises=[2.0]"], "noises must be numbers in [0, 1]"),
        (["grid.cores=['asn-gru']"], "unknown cores"),
        (["budget.rl_cap_timestep=5"], "did you mean 'rl_cap_timesteps'"),
        (["gird.seeds=[0]"], "did you mean 'grid'"),
        (["budget.test_episodes=0"], "test_episodes must be a positive integer"),
        (["--render"], "no runs stored"),
    ],
)
def test_bad_input_is_refused_before_anything_is_made(fake, tmp_path, capsys, argv, message):
    runs = tmp_path / "runs"
    assert main(["gating", "--quick", "--runs-dir", str(runs), "--doc", str(tmp_path / "g.md"), *argv]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1 and re.search(re.escape(message), err)
    assert not runs.exists() and fake == []


def test_a_tiny_real_grid_from_python(tmp_path):
    """Training, conversion and measurement for real, on a corridor of 2 and a few steps."""
    grid = GatingGrid(
        noises=(0.5,), seeds=(0,), cores=("asn-lstm",), tasks=("tmaze", "seq2a"), corridor=2, budget=TINY
    )
    records = run_grid(grid, tmp_path)
    tmaze, seq = records["tmaze-n0.50-asn-lstm-s0"]["result"], records["seq2a-asn-lstm-s0"]["result"]
    assert tmaze["timesteps"] == 32 and tmaze["timesteps_to_stop"] is None
    assert seq["updates"] == 20
    for result in (tmaze, seq):
        assert result["twin"]["gating"] == "multiplicative" and result["twin"]["recurrent_delay"] == "step"
        for key in ("analog_success", "spiking_success", "agreement", "agreement_final"):
            assert 0.0 <= result[key] <= 1.0
        assert result["mean_rate_hz"] > 0 and set(result["rate_hz"]) >= {"input", "output_cell", "overall"}
