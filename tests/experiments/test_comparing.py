"""The comparison run (sublstm.experiments.comparing), its figures and the ``sublstm compare`` command."""

from __future__ import annotations

import json
import os

import pytest
from sublstm.agents.agent import AdvantageAgent
from sublstm.experiments import cli, compare_plots, comparing
from sublstm.spiking import POPULATIONS, Comparison, TwinTiming


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory, set_tmaze_weights):
    """A checkpoint of an agent holding the hand-set T-maze solution, in its own run folder."""
    agent = AdvantageAgent("sublstm/TMaze-v0", env_kwargs={"corridor_length": 2}, n_hidden=2, n_cells=1)
    set_tmaze_weights(agent.network)
    path = tmp_path_factory.mktemp("handset") / "agent.pt"
    agent.save(path)
    return path


@pytest.fixture
def sublstm(run_cli, monkeypatch):
    """``sublstm compare ARGS`` through cli.main (only the compare command): (exit code, stdout, stderr)."""
    monkeypatch.setattr(cli, "COMMANDS", ("compare",))
    return lambda *args: run_cli("compare", *args)


def test_run_writes_json_figures_settings_and_doc_block(checkpoint, tmp_path):
    doc = tmp_path / "results.md"
    doc.write_text("# Results\n\n## Analog agent\n\nkept as is\n")
    out = tmp_path / "run"
    result = comparing.run_comparison(
        checkpoint, out, episodes=4, sweep_step_ms=(100, 200, 300), wandb="disabled", doc=doc, command="cmd"
    )
    saved = json.loads((out / "compare.json").read_text())
    assert Comparison.from_dict(saved) == result
    assert saved["checkpoint"] == str(checkpoint) and saved["command"] == "cmd" and "cpu" in saved["machine"]
    assert result.analog_success == result.spiking_success == 1.0
    assert result.shortest_step_ms == {"0.5step": 100.0}
    config = json.loads((out / "compare" / "config.json").read_text())
    assert config["twin"] == TwinTiming().to_dict() and config["compare"]["episodes"] == 4
    figures = sorted(p.name for p in (out / "compare").glob("*.png"))
    assert figures == ["af_vs_asn.png", "memory_cell.png", "raster.png", "sweep.png"]
    assert saved["plots"] == [
        str(out / "compare" / f"{n}.png") for n in ("raster", "memory_cell", "af_vs_asn", "sweep")
    ]
    text = doc.read_text()
    assert "## Analog agent\n\nkept as is" in text and text.count("## Spiking twin") == 1
    assert f"<!-- block:compare-{checkpoint.parent.name}-TMaze-v0 -->" in text
    assert "| success rate | 1.000 | 1.000 |" in text and "Command: `cmd`" in text
    table = comparing.format_comparison(result)
    assert "success rate" in table and "closed loop 1.0000" in table and "{'0.5step': 100.0}" in table


def test_an_agent_without_a_folder_writes_nothing(checkpoint, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    agent = AdvantageAgent.load(checkpoint)
    result = comparing.run_comparison(agent, episodes=2, sweep_step_ms=(), wandb="offline")
    assert result.sweep == [] and result.shortest_step_ms == {}
    assert list(tmp_path.iterdir()) == []


# -- figures ---------------------------------------------------------------------------------------------
def drawn(fig):
    """Lay out a saved (closed) figure again on an Agg canvas, so its texts and extents are final."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    return canvas.get_renderer()


def sweep_row(delay, step_ms):
    keys = ["success_rate", "teacher_forced_end", "teacher_forced_mean", "closed_loop"]
    return {"recurrent_delay": delay, "step_ms": step_ms, **dict.fromkeys(keys, 0.99)}


def test_sweep_axis_labels_the_steps_in_plain_numbers(tmp_path):
    rows = [sweep_row(d, s) for d in ("hold", "step") for s in (300.0, 100.0, 200.0)]
    fig = compare_plots.sweep(tmp_path / "sweep.png", rows, analog_success=1.0, level=0.98)
    drawn(fig)
    for ax in fig.axes:
        assert ax.get_xscale() == "log"
        assert [t.get_text() for t in ax.get_xticklabels()] == ["100", "200", "300"]
        assert all(t.get_text() == "" for t in ax.get_xticklabels(minor=True))
    assert (tmp_path / "sweep.png").stat().st_size > 0


def test_raster_legend_names_every_population_outside_the_spikes(tmp_path):
    import numpy as np

    slices, start = {}, 0
    for pop, n in zip(POPULATIONS, (3, 2, 1, 1, 1, 1), strict=True):
        slices[pop], start = slice(start, start + n), start + n
    raster = np.zeros((40, start), dtype=bool)
    raster[::3, :5] = True  # the gates and the output cells stay silent
    fig = compare_plots.raster(tmp_path / "raster.png", raster, slices, dt=1.0, step_ms=20.0)
    renderer = drawn(fig)
    (ax,) = fig.axes
    legend = ax.get_legend()
    assert [t.get_text() for t in legend.get_texts()] == list(POPULATIONS)
    # the output cells are the top rows: a legend inside the axes would cover them
    assert legend.get_window_extent(renderer).x0 >= ax.get_window_extent(renderer).x1
    assert ax.get_ylim()[1] >= slices["output_cell"].stop - 1


# -- the command -----------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("args", "option"),
    [
        (["--step-ms", "0"], "--step-ms"),
        (["--step-ms", "-5"], "--step-ms"),  # was blamed on the readout window
        (["--readout-window-ms", "-1"], "--readout-window-ms"),
        (["--readout-window-ms", "400"], "--readout-window-ms"),
        (["--dt", "0"], "--dt"),
        (["--recurrent-delay", "soon"], "--recurrent-delay"),
        (["--recurrent-delay", "-2"], "--recurrent-delay"),
        (["--episodes", "0"], "--episodes"),
        (["--seed", "-1"], "--seed"),
        (["--level", "0"], "--level"),
        (["--device", "gpu"], "--device"),
        (["--wandb", "cloud"], "--wandb"),
        (["--sweep", "100,2.5"], "--sweep"),
        (["--sweep-delays", "later"], "--sweep-delays"),
        (["twin.step_ms=-1"], "--step-ms (twin.step_ms)"),
        (["compare.episodes='3'"], "--episodes"),
        (["twin.stepms=1"], "did you mean 'step_ms'"),
        (["--threads", "0"], "--threads"),
    ],
)
def test_bad_values_end_in_one_error_line_before_anything_is_written(
    sublstm, checkpoint, tmp_path, args, option
):
    out = tmp_path / "out"
    overrides = [a for a in args if "=" in a]  # positional: right after CHECKPOINT (argparse)
    options = [a for a in args if "=" not in a]
    code, stdout, stderr = sublstm(checkpoint, *overrides, "--out", out, "--wandb", "disabled", *options)
    assert code == 2 and stdout == ""
    assert stderr.startswith("error: ") and stderr.count("\n") == 1 and option in stderr, stderr
    assert not out.exists()


def test_bad_checkpoints_are_named(sublstm, checkpoint, tmp_path):
    corrupt = tmp_path / "corrupt.pt"
    corrupt.write_bytes(b"not a checkpoint")
    for path, words in (
        (tmp_path / "missing.pt", "no such file"),
        (checkpoint.parent, f"is a folder, not a checkpoint file (did you mean {checkpoint}?)"),
        (corrupt, "not a sublstm checkpoint"),
    ):
        code, _, stderr = sublstm(path, "--out", tmp_path / "out", "--wandb", "disabled")
        assert code == 2 and stderr.startswith(f"error: checkpoint {path}") and words in stderr, stderr
    assert not (tmp_path / "out").exists()


def test_config_file_options_and_overrides_in_order(sublstm, checkpoint, tmp_path):
    config = tmp_path / "compare.toml"
    config.write_text(
        '[twin]\nstep_ms = 200\nrecurrent_delay_ms = "step"\n[compare]\nepisodes = 5\nseed = 3\n'
    )
    out = tmp_path / "out"
    code, stdout, _ = sublstm(
        checkpoint, "twin.readout_window_ms=0", "--config", config, "--episodes", "2", "--out", out,
        "--sweep", "", "--no-plots", "--wandb", "disabled",
    )  # fmt: skip
    assert code == 0 and "closed loop 1.0000" in stdout
    saved = json.loads((out / "compare.json").read_text())
    assert saved["timing"] == {
        "dt": 1.0,
        "step_ms": 200.0,
        "readout_window_ms": 0.0,
        "recurrent_delay_ms": "step",
        "output_gate_delay_ms": "step",
        "cec_from": 1 / 3,
        "cec_to": 0.5,
        "input_gain": 1.0,
    }
    assert (saved["episodes"], saved["seed"], saved["sweep"]) == (2, 3, [])
    assert saved["config"]["compare"]["plots"] is False and not list((out / "compare").glob("*.png"))


def test_wandb_online_is_passed_on(sublstm, checkpoint, monkeypatch):
    seen = {}

    def fake_run(path, out, **kwargs):
        seen.update(kwargs, path=path)
        raise ValueError("stopped here")

    monkeypatch.setattr(comparing, "run_comparison", fake_run)
    code, _, stderr = sublstm(checkpoint, "--wandb", "online", "--step-ms", "200")
    assert code == 2 and "stopped here" in stderr
    assert seen["wandb"] == "online" and seen["timing"] == TwinTiming(step_ms=200.0)
    assert seen["sweep_step_ms"] == (100.0, 200.0, 300.0) and seen["episodes"] == 200


def test_wandb_run_goes_into_the_run_folder_not_the_current_one(sublstm, checkpoint, tmp_path, monkeypatch):
    monkeypatch.delenv("WANDB_MODE", raising=False)
    monkeypatch.delenv("WANDB_DIR", raising=False)
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    out = tmp_path / "out"
    code, _, stderr = sublstm(checkpoint, "--episodes", "2", "--sweep", "", "--no-plots", "--out", out)
    assert code == 0, stderr
    assert os.listdir(cwd) == []
    assert (out / "compare" / "wandb").is_dir() and (out / "compare" / "wandb_run_id.txt").is_file()
