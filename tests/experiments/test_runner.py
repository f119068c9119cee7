"""The generic runner (sublstm.experiments.runner): resumable cells over a RunStore, serial or as Ray
tasks with one torch thread per worker, sessions recorded, failures stored as far as they got."""

import json

import pytest
from sublstm.experiments import runner
from sublstm.experiments.runner import Cell, RayExecutor, executor_for, run_cells, serial, sessions
from sublstm.experiments.store import RunStore


def cells(n: int, settings=None) -> list[Cell]:
    return [Cell(f"c{k}", settings or {"budget": 1}, {"k": k}) for k in range(n)]


def test_serial_cells_are_stored_then_skipped_until_their_settings_change(tmp_path):
    store, seen = RunStore(tmp_path), []

    def task(cell):
        seen.append(cell.name)
        return {"double": 2 * cell.params["k"]}

    records = run_cells(store, cells(3), task, extra={"command": "test"})
    assert seen == ["c0", "c1", "c2"]
    assert records["c2"]["result"] == {"double": 4} and records["c2"]["k"] == 2
    assert records["c2"]["settings"] == {"budget": 1} and records["c2"]["command"] == "test"
    assert records["c2"]["wall_s"] >= 0 and "cpu" in records["c2"]["machine"]
    assert run_cells(store, cells(3), task) == records and len(seen) == 3  # resumed: nothing to do
    run_cells(store, cells(4, {"budget": 2}), task)
    assert len(seen) == 7  # other settings: every cell again
    assert [s["runs"] for s in sessions(store)] == [3, 4]


def test_a_failing_cell_keeps_the_results_before_it(tmp_path):
    store = RunStore(tmp_path)

    def task(cell):
        if cell.params["k"] == 1:
            raise RuntimeError("boom")
        return {}

    with pytest.raises(RuntimeError, match="boom"):
        run_cells(store, cells(3), task)
    assert list(store.all()) == ["c0"]
    assert sessions(store)[0]["runs"] == 1  # the interrupted session is recorded too


def test_names_are_checked_before_anything_runs(tmp_path):
    store = RunStore(tmp_path)
    with pytest.raises(ValueError, match="repeated: \\['a'\\]"):
        run_cells(store, [Cell("a", {}), Cell("a", {})], lambda c: {})
    with pytest.raises(ValueError, match="run name"):
        run_cells(store, [Cell("ok", {}), Cell("bad/name", {})], lambda c: {})
    assert not any(tmp_path.iterdir())


@pytest.mark.parametrize("jobs", [0, -1, 1.5, True])
def test_bad_jobs_are_refused(jobs):
    with pytest.raises(ValueError, match="jobs must be a positive integer"):
        executor_for(jobs)


def test_one_job_is_serial_and_more_jobs_without_ray_fall_back_to_serial(monkeypatch):
    assert executor_for(1) is serial and executor_for(None) is serial
    monkeypatch.setattr(runner, "ray_available", lambda: False)
    with pytest.warns(UserWarning, match="needs Ray"):
        assert executor_for(2) is serial
    with pytest.raises(ValueError, match="Ray is not installed"):
        executor_for(1, address="auto")


def test_bad_ray_addresses_are_refused():
    pytest.importorskip("ray")
    with pytest.raises(ValueError, match="address must be"):
        RayExecutor(2, address=" ")


def fails_on_c1(cell):
    if cell.name == "c1":
        raise RuntimeError("boom in c1")
    return {"name": cell.name}


def test_ray_runs_every_cell_with_one_torch_thread_and_resumes(tmp_path):
    pytest.importorskip("ray")
    ex = executor_for(2)
    assert isinstance(ex, RayExecutor) and ex.jobs == 2
    store = RunStore(tmp_path)
    # the task need not be importable by the workers: Ray pickles it by value
    records = run_cells(store, cells(3), lambda cell: {"name": cell.name}, ex)
    assert {r["result"]["name"] for r in records.values()} == {"c0", "c1", "c2"}
    assert {r["machine"]["torch_threads"] for r in records.values()} == {"1"}
    session = json.loads((tmp_path / "_sessions.json").read_text())[0]
    assert session["jobs"] == 2 and session["executor"] == "ray"
    # a failing cell: its error is raised here, the cells finished before it stay stored
    with pytest.raises(Exception, match="boom in c1"):
        run_cells(RunStore(tmp_path / "b"), cells(3), fails_on_c1, RayExecutor(1))
    assert "c1" not in RunStore(tmp_path / "b").all()
