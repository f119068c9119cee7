"""The benchmarks (sublstm.experiments.bench and its sections), their training runs under a
wall-clock cap, and the ``sublstm bench`` command."""

from __future__ import annotations

import json
import math
import time
from pathlib import Path

import numpy as np
import pytest
from sublstm.experiments import bench
from sublstm.experiments.bench_scaling import linear_fit, optimal_episode
from sublstm.experiments.command_runs import package_argv, run_commands
from sublstm.experiments.commands import bench as bench_command
from sublstm.experiments.runner import Cell
from sublstm.experiments.store import RunStore


# -- sections and settings -----------------------------------------------------------------------------
def test_every_section_module_defines_its_section_with_valid_presets():
    names = bench.section_names()
    assert {"asn", "envs", "throughput", "spiking", "sample-efficiency", "scaling", "energy"} <= set(names)
    for name in names:
        section = bench.load_section(name)
        assert section.name == name and section.title
        section.full.validate()
        section.quick.validate()
        assert type(section.full) is type(section.quick)


def test_presets_are_dataclass_instances_and_quick_is_smaller():
    shared, sections, own = bench.resolve_settings(bench=bench.QUICK)
    assert shared is not bench.FULL and shared.quick and shared.max_run_s < bench.FULL.max_run_s
    grid = own["sample-efficiency"]
    assert grid == bench.load_section("sample-efficiency").quick and grid.seeds == 1
    assert [s.order for s in sections] == sorted(s.order for s in sections)


def test_settings_tables_and_shared_options_reach_the_sections():
    values = {"bench": {"corridors": [10, 30], "budgets": {"10": 1234}}, "throughput": {"repeats": 5}}
    shared, _, own = bench.resolve_settings(values, only=["throughput", "scaling"])
    assert own["throughput"].repeats == 5 and set(own) == {"throughput", "scaling"}
    grid = own["scaling"].resolved(shared)
    assert grid.corridors == (10, 30) and grid.seeds == 5
    assert grid.budgets == {10: 1234, 30: 3_000_000}  # a corridor without a budget: 100k steps per unit


@pytest.mark.parametrize(
    ("values", "only", "match"),
    [
        ({"bench": {"seeds": 0}}, None, "seeds"),
        ({"bench": {"corridors": [0]}}, None, "corridors"),
        ({"bench": {"max_run_s": -1}}, None, "max_run_s"),
        ({"throughput": {"repeat": 5}}, None, "did you mean 'repeats'"),
        ({"throughputs": {}}, None, "did you mean 'throughput'"),
        ({"spiking": {"batches": [0]}}, None, "batches"),
        ({}, ["speed"], "no benchmark section"),
    ],
)
def test_bad_settings_are_refused_naming_them(values, only, match):
    with pytest.raises(ValueError, match=match):
        bench.resolve_settings(values, only=only)


def test_quick_mode_never_writes_into_docs_and_full_mode_does(tmp_path):
    ctx, _, _ = bench.prepare(bench=bench.QUICK, runs=tmp_path / "q")
    assert (
        "docs" not in ctx.doc.parts
        and "docs" not in ctx.results_doc.parts
        and ctx.doc.parent == tmp_path / "q"
    )
    full, _, _ = bench.prepare()
    assert full.doc == Path("docs/benchmarks.md") and full.results_doc == Path("docs/results.md")


def test_sections_write_their_doc_part_with_command_and_machine(tmp_path):
    doc = tmp_path / "b.md"
    doc.write_text("# Benchmarks\n\n## Environment throughput\n\nkeep me\n")
    ctx, _, _ = bench.prepare(
        bench=bench.QUICK, doc=doc, runs=tmp_path / "r", command="sublstm bench --quick"
    )
    section = bench.load_section("energy")
    ctx.write(section, "the table")
    text = doc.read_text()
    assert "## Environment throughput\n\nkeep me\n" in text
    assert f"## {section.title}" in text and "- Command: `sublstm bench --quick`" in text
    assert ctx.machine["cpu"] in text and "QUICK MODE" in text
    json.dumps(ctx.machine)  # recorded machine info is plain data


def test_device_blocks_replace_a_section_written_without_blocks(tmp_path):
    doc = tmp_path / "b.md"
    spiking = bench.load_section("spiking")
    doc.write_text(f"# Benchmarks\n\n## {spiking.title}\n\nold unblocked table\n\n## Later\n\nkeep\n")
    ctx, _, _ = bench.prepare(bench=bench.QUICK, doc=doc, runs=tmp_path / "r")
    ctx.write_block(spiking, "spiking-cpu", "cpu table")
    ctx.write_block(spiking, "spiking-cuda", "cuda table")
    ctx.write_block(spiking, "spiking-cpu", "new cpu table")
    text = doc.read_text()
    assert "old unblocked" not in text and "cpu table" not in text.replace("new cpu table", "")
    assert text.index("new cpu table") < text.index("cuda table") < text.index("## Later\n\nkeep")


# -- statistics -------------------------------------------------------------------------------------------
def test_curve_on_grid_carries_the_last_evaluation_forward():
    curve = [{"timesteps": 5008, "success_rate": 0.2}, {"timesteps": 10000, "success_rate": 0.96}]
    grid = np.array([5000, 10000, 15000, 20000])
    assert bench.curve_on_grid(curve, grid).tolist() == [0.2, 0.96, 0.96, 0.96]


def test_unreached_runs_count_as_infinite_in_the_median():
    steps = [bench.steps_to_target(s) for s in ({"timesteps_to_95": 1000}, {"timesteps_to_95": None}, None)]
    assert steps[0] == 1000 and math.isinf(steps[1]) and math.isinf(steps[2])
    assert bench.fmt_steps(bench.median(steps), 5000) == "> 5,000"
    assert bench.spread(steps, 5000) == "1,000 - > 5,000"
    assert bench.fmt_steps(bench.median([1000.0, 3000.0, math.inf]), 5000) == "3,000"


def test_optimal_episode_and_the_cost_fit():
    obs = optimal_episode(4)
    assert obs.shape == (5, 1, 3)
    assert obs[0, 0, 1] == 1.0 and obs[0, 0].sum() == 2.0  # the road sign
    assert obs[-1, 0].tolist() == [0.0, 1.0, 0.0]  # the junction, where the last decision is taken
    assert all(o[0, 1] == 0.0 for o in obs[1:-1])  # noisy corridor: middle component 0
    slope, intercept, r2 = linear_fit(np.array([11.0, 21.0, 51.0]), np.array([0.2, 0.4, 1.0]))
    assert slope == pytest.approx(0.02) and intercept == pytest.approx(-0.02) and r2 == pytest.approx(1.0)


# -- training runs under a cap ------------------------------------------------------------------------------
def script_cell(tmp_path: Path, name: str, body: str, *args: str) -> Cell:
    script = tmp_path / f"{name}.py"
    script.write_text(body)
    out = tmp_path / name
    argv = [str(script), str(out), *args]
    return Cell(name=name, settings={"argv": argv}, params={"argv": argv, "out": str(out)})


COUNTING = (
    "import json, sys, pathlib\n"
    "out = pathlib.Path(sys.argv[1]); out.mkdir(parents=True, exist_ok=True); n = int(sys.argv[2])\n"
    "count = out / 'count'; c = int(count.read_text()) + 1 if count.exists() else 1\n"
    "count.write_text(str(c))\n"
    "(out / 'summary.json').write_text(json.dumps({'n': n, 'runs': c}))\n"
    "(out / 'learning_curve.csv').write_text('timesteps,success_rate\\n100,0.5\\n')\n"
)


def test_stored_runs_are_reused_for_the_same_command_only(tmp_path):
    store = RunStore(tmp_path / "store")

    def summary(cell):
        return run_commands(store, [cell])[cell.name]["result"]["summary"]

    cell = script_cell(tmp_path, "run", COUNTING, "1")
    assert summary(cell) == {"n": 1, "runs": 1}
    assert summary(cell)["runs"] == 1  # reused, not rerun
    assert run_commands(store, [cell])["run"]["result"]["curve"][0]["timesteps"] == 100
    changed = script_cell(tmp_path, "run", COUNTING, "2")
    assert summary(changed) == {"n": 2, "runs": 2}
    assert run_commands(store, [changed], fresh=True)["run"]["result"]["summary"]["runs"] == 3


def test_a_failed_run_is_none_and_not_stored(tmp_path, capsys):
    store = RunStore(tmp_path / "store")
    cell = script_cell(tmp_path, "boom", "raise SystemExit(3)\n")
    assert run_commands(store, [cell], jobs=2) == {"boom": None}
    assert "FAILED boom" in capsys.readouterr().out
    assert (store.root / "logs" / "boom.log").is_file() and store.all() == {}


def test_a_run_past_the_wall_clock_cap_is_interrupted_and_counted(tmp_path):
    slow = (
        "import json, sys, pathlib, time\n"
        "out = pathlib.Path(sys.argv[1]); out.mkdir(parents=True, exist_ok=True)\n"
        "try:\n    time.sleep(60)\n"
        "except KeyboardInterrupt:\n"
        "    (out / 'summary.json').write_text(json.dumps({'interrupted': True}))\n"
    )
    cell = script_cell(tmp_path, "slow", slow)
    t0 = time.perf_counter()
    record = run_commands(RunStore(tmp_path / "store"), [cell], max_run_s=1.0)["slow"]
    assert time.perf_counter() - t0 < 30
    summary = record["result"]["summary"]
    assert summary == {"interrupted": True, "bench_wall_limit_s": 1.0}
    stats = bench.seed_stats([summary, None], 1000)
    assert stats["reached"] == "0/2 (1 failed, 1 stopped at the wall-clock limit)" and stats["success"] == "-"


def test_training_runs_launch_the_package_commands_with_settings_they_accept(tmp_path, command_parser):
    from sublstm.experiments.commands import baselines, train
    from sublstm.experiments.grid_runs import learner_settings

    ctx, _, _ = bench.prepare(bench=bench.QUICK, runs=tmp_path)
    for learner, module in (("ours", train), ("recurrent-ppo", baselines)):
        name, settings = learner_settings(learner, 20, 3, 4096, ctx, tmp_path / learner)
        argv = package_argv(name, settings)
        assert argv[:3] == ["-m", "sublstm.experiments", name] and name == module.__name__.rsplit(".", 1)[1]
        args = command_parser(module).parse_args(argv[3:])
        config = train.resolve(args) if module is train else baselines.build_config(args)
        assert config.env.kwargs == {"corridor_length": 20} and config.learn.total_timesteps == 4096
        assert config.learn.stop_at_success == 0.95 and config.run.wandb == "disabled"
        assert config.learn.eval_episodes == bench.QUICK.eval_episodes and config.out == tmp_path / learner
    assert config.peer.algo == "recurrent-ppo" and config.peer.seed == 3


# -- the command ---------------------------------------------------------------------------------------------
def test_every_option_has_help_text_and_shows_its_default(check_option_help):
    check_option_help(bench_command)


@pytest.mark.parametrize(
    ("argv", "match"),
    [
        (("--jobs", "0"), "jobs"),
        (("--seeds", "0"), "seeds"),
        (("--corridors", "0"), "corridors"),
        (("--budget", "10:5"), "--budget"),
        (("--budget", "10=-5"), "--budget"),
        (("--only", "speed"), "no benchmark section 'speed'"),
        (("throughput.repeats=0",), "repeats"),
        (("--agent", "missing.pt"), "missing.pt"),
    ],
)
def test_command_errors_are_one_line_with_status_2_and_create_nothing(tmp_path, run_cli, argv, match):
    runs = tmp_path / "runs"
    code, _, err = run_cli("bench", "--quick", "--runs", str(runs), *argv)
    assert code == 2 and err.startswith("error: ") and match in err and err.count("\n") == 1
    assert not runs.exists()


def test_quick_cheap_sections_write_their_docs_in_the_runs_folder(tmp_path, run_cli):
    runs = tmp_path / "runs"
    code, out, err = run_cli("bench", "--quick", "--only", "asn", "envs", "--runs", str(runs))
    assert code == 0, err
    doc, results = (runs / "benchmarks.md").read_text(), (runs / "results.md").read_text()
    from sublstm.envs import ENV_IDS

    for env_id in ENV_IDS:
        assert f"| `{env_id}` |" in doc
    assert "## Environment throughput" in doc and "QUICK MODE" in doc
    assert (
        "## Spiking twin" in results
        and "<!-- block:asn-table -->" in results
        and "| 0.5 | 0.564 |" in results
    )
