"""scripts/experiment_gating.py: the grid, resuming from stored runs, and the doc rendered from them.

Training is replaced by fakes (the real runs are minutes each); what is tested is the bookkeeping
that makes the grid resumable and the doc reproducible, plus one real sequence run end to end.
"""

import importlib.util
import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture()
def script(monkeypatch):
    spec = importlib.util.spec_from_file_location(
        "experiment_gating_under_test", ROOT / "scripts" / "experiment_gating.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    calls = []

    def fake(kind):
        def run(core, noise_or_noisy, seed, budget):
            calls.append((kind, core, noise_or_noisy, seed))
            gap = 0.1 if core == "asn-lstm" else 0.0
            result = {
                "analog_success": 1.0,
                "spiking_success": 1.0 - gap,
                "agreement": 1.0 - gap / 2,
                "agreement_final": 1.0 - gap,
                "mean_rate_hz": 50.0 + seed,
                "twin": {
                    "step_ms": 300.0,
                    "dt_ms": 1.0,
                    "readout_window_ms": 10.0,
                    "recurrent_delay": "step",
                },
            }
            if kind == "tmaze":
                result |= {"timesteps": 20_000, "timesteps_to_stop": 20_000 if seed else None}
            else:
                result |= {"updates": budget["seq_updates"]}
            return result

        return run

    monkeypatch.setattr(module, "run_tmaze", fake("tmaze"))
    monkeypatch.setattr(module, "run_sequence", fake("seq"))
    module.calls = calls
    return module


def test_grid_covers_both_cells_every_noise_and_seed(script):
    cells = script.grid(quick=False)
    assert len(cells) == 5 * 2 * 5 + 2 * 2 * 5
    names = {script.run_name(c) for c in cells}
    assert len(names) == len(cells)  # one stored file per run
    tmaze = [c for c in cells if c["task"] == "tmaze"]
    assert {c["noise"] for c in tmaze} == {0.0, 0.25, 0.5, 0.75, 1.0}
    assert {c["core"] for c in cells} == {"asn-sublstm", "asn-lstm"}
    assert len(script.grid(quick=True)) < len(cells)


def test_runs_are_stored_resumed_and_rendered(script, tmp_path):
    args = ["--quick", "--runs-dir", str(tmp_path / "runs"), "--doc", str(tmp_path / "gating.md")]
    script.main(args)
    n = len(script.grid(quick=True))
    assert len(script.calls) == n
    stored = sorted(p.name for p in (tmp_path / "runs").glob("*.json") if not p.name.startswith("_"))
    assert len(stored) == n
    doc = (tmp_path / "gating.md").read_text()
    assert (tmp_path / "gating.png").stat().st_size > 0
    # the table is computed from the stored runs: asn-lstm's fake spiking success is 0.9
    assert "| 1 | asn-lstm | 1.00 ± 0.00 | 0.90 ± 0.00 |" in doc
    assert "asn-lstm (multiplicative): analog − spiking success by noise — 0: +0.10, 1: +0.10" in doc

    # a rerun does nothing; a deleted run is redone, alone
    script.main(args)
    assert len(script.calls) == n
    victim = tmp_path / "runs" / stored[0]
    victim.unlink()
    script.main(args)
    assert len(script.calls) == n + 1 and victim.exists()
    sessions = json.loads((tmp_path / "runs" / "_sessions.json").read_text())
    assert len(sessions) == 2  # sessions that ran nothing are not recorded

    # a changed budget makes every stored run stale
    script.QUICK["test_episodes"] += 1
    script.main(args)
    assert len(script.calls) == 2 * n + 1


def test_hand_written_reading_survives_a_rerender(script, tmp_path):
    args = ["--quick", "--runs-dir", str(tmp_path / "runs"), "--doc", str(tmp_path / "gating.md")]
    script.main(args)
    doc = tmp_path / "gating.md"
    text = doc.read_text().replace("(not written yet)", "Gating matters here.")
    doc.write_text(text)
    script.main([*args, "--render"])
    assert "Gating matters here." in doc.read_text()


def test_bad_jobs_rejected(script):
    with pytest.raises(SystemExit):
        script.parse_args(["--jobs", "0"])


def test_one_real_sequence_run_end_to_end(monkeypatch):
    spec = importlib.util.spec_from_file_location(
        "experiment_gating_real", ROOT / "scripts" / "experiment_gating.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    budget = {**module.QUICK, "seq_updates": 20, "test_sequences": 4}
    result = module.run_sequence("asn-lstm", False, 0, budget)
    assert result["updates"] == 20 and result["twin"]["gating"] == "multiplicative"
    for key in ("analog_success", "spiking_success", "agreement", "agreement_final"):
        assert 0.0 <= result[key] <= 1.0
    assert result["mean_rate_hz"] > 0


def test_one_real_tmaze_run_end_to_end():
    spec = importlib.util.spec_from_file_location(
        "experiment_gating_tmaze", ROOT / "scripts" / "experiment_gating.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.CORRIDOR = 2  # an untrained agent wanders until the time limit, 10 * (corridor + 1) steps
    budget = {**module.QUICK, "rl_cap_timesteps": 32, "test_episodes": 2}
    result = module.run_tmaze("asn-lstm", 0.5, 0, budget)
    assert result["timesteps"] == 32 and result["timesteps_to_stop"] is None
    assert result["twin"]["gating"] == "multiplicative" and result["twin"]["recurrent_delay"] == "step"
    for key in ("analog_success", "spiking_success", "agreement", "agreement_final", "agreement_closed_loop"):
        assert 0.0 <= result[key] <= 1.0
    assert set(result["rate_hz"]) >= {"input", "output_cell", "overall"}
