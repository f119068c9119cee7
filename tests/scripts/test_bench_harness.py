"""scripts/bench.py and scripts/bench_lib.py: the doc writer, curves, statistics, run reuse, arguments."""

from __future__ import annotations

import importlib.util
import json
import math
import sys
import time
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))


def _load(name: str):
    spec = importlib.util.spec_from_file_location(f"{name}_under_test", ROOT / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


lib = _load("bench_lib")
bench = _load("bench")


# -- docs/benchmarks.md sections ------------------------------------------------------------------
OTHERS = "# Benchmarks\n\n## Environment throughput\n\nTheir table.\n\n| a | b |\n| --- | --- |\n| 1 | 2 |\n"


def test_replace_section_appends_then_replaces_leaving_other_sections_intact(tmp_path):
    doc = tmp_path / "benchmarks.md"
    doc.write_text(OTHERS)
    lib.replace_section(doc, "Learner throughput", "first version")
    lib.replace_section(doc, "Scaling", "scaling body")
    lib.replace_section(doc, "Learner throughput", "second version\n\nwith two paragraphs")
    text = doc.read_text()
    assert text.startswith(OTHERS)  # the other engineer's section, byte for byte
    assert "first version" not in text and text.count("## Learner throughput") == 1
    assert text.index("## Learner throughput") < text.index("## Scaling")  # kept its place
    assert "second version\n\nwith two paragraphs\n" in text and text.endswith("scaling body\n")


def test_replace_section_creates_the_file_with_a_title(tmp_path):
    doc = tmp_path / "new.md"
    lib.replace_section(doc, "Energy", "body")
    assert doc.read_text() == "# Benchmarks\n\n## Energy\n\nbody\n"


def test_replace_section_does_not_match_a_longer_title(tmp_path):
    doc = tmp_path / "d.md"
    lib.replace_section(doc, "Scaling with corridor length", "long")
    lib.replace_section(doc, "Scaling", "short")
    assert "long" in doc.read_text() and "short" in doc.read_text()


def test_markdown_table_shape():
    assert lib.markdown_table(["a", "b"], [[1, "x"]]).splitlines() == [
        "| a | b |",
        "| --- | --- |",
        "| 1 | x |",
    ]


# -- curves and statistics ---------------------------------------------------------------------------
def test_curve_roundtrip_and_first_reaching(tmp_path):
    rows = [
        {"timesteps": 100, "success_rate": 0.5, "mean_return": 1.0, "mean_length": 12.0, "wall_s": 1.5},
        {"timesteps": 200, "success_rate": 0.97, "mean_return": 3.9, "mean_length": 11.0, "wall_s": 3.0},
    ]
    lib.write_curve(tmp_path / "c.csv", rows)
    back = lib.read_curve(tmp_path / "c.csv")
    assert back == rows
    assert lib.first_reaching(back, 0.95) == 200
    assert lib.first_reaching(back, 0.95, key="wall_s") == 3.0
    assert lib.first_reaching(back, 0.99) is None


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


# -- training jobs ---------------------------------------------------------------------------------------
def test_training_job_command_lines(tmp_path):
    s = bench.Settings.quick_()
    ours = bench.training_job("ours", 20, 3, 4096, s, tmp_path / "a")
    peer = bench.training_job("recurrent-ppo", 20, 3, 4096, s, tmp_path / "b")
    assert ours.argv[0].endswith("train.py") and peer.argv[0].endswith("baselines.py")
    for job in (ours, peer):
        argv = job.argv
        assert argv[argv.index("--env-kwargs") + 1] == "corridor_length=20"
        assert argv[argv.index("--seed") + 1] == "3" and argv[argv.index("--total-timesteps") + 1] == "4096"
        assert argv[argv.index("--stop-at-success") + 1] == "0.95"
        assert job.key == (20, job.key[1], 3)
    assert peer.argv[peer.argv.index("--algo") + 1] == "recurrent-ppo"
    # the peers' own parser must accept what the bench passes them
    bl = _load("baselines")
    cfg = bl.config_from_args(bl.build_parser().parse_args(peer.argv[1:]))
    assert cfg["env_kwargs"] == {"corridor_length": 20} and cfg["stop_at_success"] == 0.95


def test_run_jobs_reuses_a_finished_run_with_the_same_command_only(tmp_path):
    script = tmp_path / "fake.py"
    script.write_text(
        "import json, sys, pathlib\n"
        "out = pathlib.Path(sys.argv[1]); n = int(sys.argv[2])\n"
        "count = out / 'count'; c = int(count.read_text()) + 1 if count.exists() else 1\n"
        "count.write_text(str(c))\n"
        "(out / 'summary.json').write_text(json.dumps({'n': n, 'runs': c}))\n"
    )
    out = tmp_path / "run"
    job = bench.Job(("k",), [str(script), str(out), "1"], out, 1.0)
    assert bench.run_jobs([job], 1, fresh=False)[("k",)] == {"n": 1, "runs": 1}
    assert bench.run_jobs([job], 1, fresh=False)[("k",)]["runs"] == 1  # reused, not rerun
    changed = bench.Job(("k",), [str(script), str(out), "2"], out, 1.0)
    assert bench.run_jobs([changed], 1, fresh=False)[("k",)] == {"n": 2, "runs": 2}
    assert bench.run_jobs([changed], 1, fresh=True)[("k",)]["runs"] == 3


def test_run_jobs_reports_a_failed_run_as_none(tmp_path):
    script = tmp_path / "boom.py"
    script.write_text("raise SystemExit(3)\n")
    job = bench.Job(("x",), [str(script)], tmp_path / "boom", 1.0)
    assert bench.run_jobs([job], 2, fresh=False) == {("x",): None}
    assert (tmp_path / "boom" / "bench.log").exists()


# -- arguments and where things go --------------------------------------------------------------------------
def test_quick_mode_never_writes_into_docs():
    ctx = bench.make_context(bench.build_parser().parse_args(["--quick"]))
    assert "docs" not in ctx.doc.parts and "docs" not in ctx.plots.parts
    assert ctx.settings.quick and ctx.settings.seeds_se == 1
    full = bench.make_context(bench.build_parser().parse_args([]))
    assert full.doc == ROOT / "docs" / "benchmarks.md" and full.settings.seeds_se == 5


def test_corridors_and_budgets_from_the_command_line():
    args = bench.build_parser().parse_args(["--corridors", "10", "30", "--budget", "10=1234"])
    s = bench.make_context(args).settings
    assert s.corridors_se == s.corridors_sc == (10, 30)
    assert s.budget_se[10] == s.budget_sc[10] == 1234
    assert s.budget_se[30] == 3_000_000  # a corridor without a default budget gets 100k steps per unit


@pytest.mark.parametrize(
    "argv",
    [["--jobs", "0"], ["--seeds", "0"], ["--corridors", "0"], ["--budget", "10:5"], ["--budget", "10=-5"]],
)
def test_bad_counts_are_refused(argv):
    with pytest.raises(ValueError, match=argv[0].lstrip("-")):
        bench.make_context(bench.build_parser().parse_args(argv))


def test_unknown_benchmark_name_is_refused():
    with pytest.raises(SystemExit):
        bench.build_parser().parse_args(["--only", "speed"])


def test_optimal_episode_observations():
    obs = bench.optimal_episode(4)
    assert obs.shape == (5, 1, 3)
    assert obs[0, 0, 1] == 1.0 and obs[0, 0].sum() == 2.0  # the road sign
    assert obs[-1, 0].tolist() == [0.0, 1.0, 0.0]  # the junction, where the last decision is taken
    assert all(o[0, 1] == 0.0 for o in obs[1:-1])  # noisy corridor: middle component 0


def test_write_sections_record_command_and_machine(tmp_path):
    ctx = bench.make_context(bench.build_parser().parse_args(["--quick", "--doc", str(tmp_path / "b.md")]))
    ctx.write("energy", "the table")
    text = (tmp_path / "b.md").read_text()
    assert "## " + bench.TITLES["energy"] in text and "- Command: `" in text
    assert ctx.machine["cpu"] in text and "QUICK MODE" in text
    json.dumps(ctx.machine)  # recorded machine info is plain data


def test_run_jobs_interrupts_a_run_at_the_wall_clock_limit(tmp_path):
    script = tmp_path / "slow.py"
    script.write_text(
        "import json, sys, pathlib, time\n"
        "out = pathlib.Path(sys.argv[1])\n"
        "try:\n    time.sleep(60)\n"
        "except KeyboardInterrupt:\n"
        "    (out / 'summary.json').write_text(json.dumps({'interrupted': True}))\n"
    )
    out = tmp_path / "slow"
    job = bench.Job(("s",), [str(script), str(out)], out, 1.0)
    t0 = time.perf_counter()
    result = bench.run_jobs([job], 1, fresh=False, max_run_s=1.0)[("s",)]
    assert time.perf_counter() - t0 < 30
    assert result == {"interrupted": True, "bench_wall_limit_s": 1.0}
    stats = bench.seed_stats([result, None], 1000)
    assert stats["reached"] == "0/2 (1 failed, 1 stopped at the wall-clock limit)" and stats["success"] == "-"
