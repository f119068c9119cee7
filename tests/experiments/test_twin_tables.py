"""experiments.twin_tables: cells per (row, block), the stored run, the per-task tables."""

import numpy as np
import pytest
from sublstm.experiments import twin_tables as tt


def test_cells_split_rows_into_blocks_and_validate():
    cells = tt.cells(tt.TwinTableSettings(rows=("seq2a", "tmaze-c20-n0.5"), seeds=5, block=2))
    assert [c.name for c in cells] == [
        "seq2a-s0-1", "seq2a-s2-3", "seq2a-s4-4", "tmaze-c20-n0.5-s0-1", "tmaze-c20-n0.5-s2-3",
        "tmaze-c20-n0.5-s4-4",
    ]  # fmt: skip
    assert cells[3].params["row"]["env_kwargs"] == {"corridor_length": 20, "noise": 0.5}
    assert cells[0].settings["twin"]["recurrent_delay_ms"] != "hold"
    for bad, match in (({"rows": ("tmaze-c30",)}, "rows"), ({"seeds": 0}, "seeds"), ({"level": 2}, "level")):
        with pytest.raises(ValueError, match=match):
            tt.TwinTableSettings(**bad).validate()
    with pytest.raises(ValueError, match="learning_rate"):
        tt.TwinTableSettings(hyperparams={"learning_rate": -1.0}).validate()


def test_shortest_safe_step_and_trial_types():
    assert tt.shortest_safe_step({300.0: 1.0, 200.0: 0.99, 100.0: 1.0}, 0.995) == 300.0
    assert tt.shortest_safe_step({300.0: 1.0, 200.0: 0.999, 100.0: 0.9}, 0.995) == 200.0
    assert tt.shortest_safe_step({300.0: 0.9}, 0.995) is None
    obs = np.zeros((3, 4, 4))
    obs[0, :2, 0] = 1  # pro
    obs[0, 2:, 1] = 1  # anti
    obs[1, [1, 3], 3] = 1  # cue right
    obs[1, [0, 2], 2] = 1
    assert tt.trial_types(obs) == ["pro-left", "pro-right", "anti-left", "anti-right"]


def test_a_tiny_run_is_stored_resumed_and_tabulated(tmp_path):
    settings = tt.TwinTableSettings(
        rows=("tmaze-c10-n0",), seeds=1, total_timesteps=200, episodes=3, sweep_step_ms=(100.0,)
    )
    doc = tmp_path / "results.md"
    records = tt.run_twin_tables(settings, tmp_path / "runs", doc=doc)
    (member,) = records["tmaze-c10-n0-s0-0"]["result"]["members"]
    assert member["seed"] == 0 and set(member["agreement_by_step"]) == {"300", "100"}
    assert member["rates_hz"]["overall"] > 0 and member["synops_per_decision"] > 0
    text = doc.read_text()
    assert "## Spiking twin" in text and "#### T-maze" in text and "| tmaze-c10-n0 | 1 |" in text
    assert (tmp_path / "runs" / "agents" / "tmaze-c10-n0-s0-0" / "s0.pt").is_file()  # kept for later twins
    again = tt.run_twin_tables(settings, tmp_path / "runs")  # resumes: nothing runs again
    assert again["tmaze-c10-n0-s0-0"]["result"] == records["tmaze-c10-n0-s0-0"]["result"]
    assert tt.render(tmp_path / "runs", doc, settings) == 1
    with pytest.raises(ValueError, match="nothing to render"):
        tt.render(tmp_path / "empty", doc, settings)


def test_a_row_trains_with_its_own_hyperparameters_on_top_of_the_tables():
    cells = {
        c.name: c
        for c in tt.cells(tt.TwinTableSettings(rows=("saccade", "tmaze-c10-n1", "seq2a"), seeds=2, block=2))
    }
    saccade, tmaze, seq = cells["saccade-s0-1"], cells["tmaze-c10-n1-s0-1"], cells["seq2a-s0-1"]
    # a row without changes is stored as before the field existed (its stored runs still count)
    assert "hyperparams" not in seq.params["row"]
    assert saccade.params["row"]["hyperparams"] == {"rate_penalty": 1.0}
    assert tt.row_hyperparams(tmaze.settings, tmaze.params["row"]) == {
        "rate_penalty": tt.TMAZE_RATE_PENALTY,
        "input_gain": tt.TMAZE_NOISY_INPUT_GAIN,  # a noisy row's analog input code
    }
    # what an RL row's agents train with is stored in full; the sequence rows store none
    assert tmaze.settings["agent"]["rate_penalty"] == tt.TMAZE_RATE_PENALTY and "agent" not in seq.settings
    assert tmaze.settings["agent"]["input_gain"] == tt.TMAZE_NOISY_INPUT_GAIN
    # a field neutral at its default is left out, so runs stored before it existed still count
    clean = tt.cells(tt.TwinTableSettings(rows=("tmaze-c10-n0",), seeds=1))[0]
    assert "input_gain" not in clean.settings["agent"]
    # the table's changes apply to every row, the row's own win where both set a field
    s = tt.TwinTableSettings(rows=("saccade",), seeds=1, hyperparams={"rate_penalty": 3.0, "gamma": 0.9})
    (cell,) = tt.cells(s)
    assert tt.row_hyperparams(cell.settings, cell.params["row"]) == {"rate_penalty": 1.0, "gamma": 0.9}


def test_a_row_may_have_its_own_stop_rule_and_twin(monkeypatch):
    row = tt.Row("tmaze-c10-n0", "tmaze", "sublstm/TMaze-v0", {"corridor_length": 10, "noise": 0.0},
                 stop_patience=4, twin={"input_gain": 0.7})  # fmt: skip
    monkeypatch.setattr(tt, "ROWS", (row,))
    (cell,) = tt.cells(tt.TwinTableSettings(rows=("tmaze-c10-n0",), seeds=1))
    assert (
        cell.params["row"]["stop_patience"] == 4 and tt.row_patience(cell.settings, cell.params["row"]) == 4
    )
    timing = tt.row_timing(cell.settings, cell.params["row"])
    assert (
        timing.input_gain == 0.7 and timing.recurrent_delay_ms == cell.settings["twin"]["recurrent_delay_ms"]
    )
    assert "input_gain" not in cell.settings["twin"]  # the table's twin is unchanged
    assert "stopped after 4 evaluations" in tt.own_changes(row) and "`input_gain` = 0.7" in tt.own_changes(
        row
    )
    # a row without its own stop rule or twin takes the table's, and is stored without the fields
    plain = tt.row_settings(tt.Row("x", "tmaze"))
    assert "stop_patience" not in plain and "twin" not in plain
    assert tt.row_patience({"stop_patience": 2}, plain) == 2
    assert tt.row_timing(cell.settings, plain).input_gain == 1.0
    assert tt.own_changes(tt.Row("x", "tmaze")) == ""


def test_a_row_may_stop_on_the_mean_return(monkeypatch):
    row = tt.Row("tmaze-c10-n1", "tmaze", "sublstm/TMaze-v0", {"corridor_length": 10, "noise": 1.0},
                 stop_at_return=3.95)  # fmt: skip
    monkeypatch.setattr(tt, "ROWS", (row,))
    (cell,) = tt.cells(tt.TwinTableSettings(rows=("tmaze-c10-n1",), seeds=1))
    stored = cell.params["row"]
    assert tt.row_stop(stored) == {"stop_at_success": None, "stop_at_return": 3.95}
    key = tt.training_key(cell)
    assert key["stop_at_return"] == 3.95 and key["stop_at_success"] is None
    assert "mean return >= 3.95" in tt.own_changes(row)
    # rows without it keep the success rule and are stored as before the field existed
    plain = tt.row_settings(tt.Row("x", "tmaze"))
    assert "stop_at_return" not in plain and tt.row_stop(plain) == {"stop_at_success": 0.95}


def test_the_determined_steps_of_the_sequence_tasks():
    assert tt.determined_steps(5, noisy=False).tolist() == [True] * 5  # 2a: every symbol follows
    assert tt.determined_steps(5, noisy=True).tolist() == [False] * 4 + [True]  # 2b: the final one only
    # records stored before the figure: agreement where it counted every decision, else unknown
    assert tt.determined_agreement({"determined_agreement": 0.9, "agreement": 0.5}) == 0.9
    assert tt.determined_agreement({"agreement": 0.99}) == 0.99  # RL rows
    assert tt.determined_agreement({"agreement": 0.99, "decisive_fraction": 1.0}) == 0.99  # 2a
    assert np.isnan(tt.determined_agreement({"agreement": 0.99, "decisive_fraction": 0.3}))


def test_seq2b_trains_with_its_own_stop_rule_and_counts_determined_steps(tmp_path, monkeypatch):
    from sublstm.agents import supervised

    calls, train = [], supervised.train_sequence

    def short(**kwargs):  # the row's own settings, but a few updates only
        calls.append(kwargs)
        return train(**kwargs, max_updates=30, eval_every=10, eval_sequences=20)

    monkeypatch.setattr(supervised, "train_sequence", short)
    settings = tt.TwinTableSettings(rows=("seq2b",), seeds=1, episodes=4, sweep_step_ms=(100.0,))
    doc = tmp_path / "results.md"
    records = tt.run_twin_tables(settings, tmp_path / "runs", doc=doc)
    assert calls[0]["stop_patience"] == tt.SEQ2B_PATIENCE and calls[0]["noisy"] is True
    (member,) = records["seq2b-s0-0"]["result"]["members"]
    # 2b's determined steps are its final symbols: the same figure as the final-decision agreement
    assert member["determined_agreement"] == member["final_agreement"]
    assert set(member["determined_by_step"]) == {"300", "100"}
    text = doc.read_text()
    assert "agreement on determined steps (tf)" in text and "only the final (memory) symbol of 2b" in text
    assert "Row seq2b: stopped after 12 evaluations in a row at `train_sequence`'s target" in text


def test_other_twins_of_saved_agents_are_compared_without_training_again(tmp_path, monkeypatch):
    settings = tt.TwinTableSettings(
        rows=("tmaze-c10-n1",), seeds=1, total_timesteps=200, episodes=3, sweep_step_ms=()
    )
    first = tt.run_twin_tables(settings, tmp_path)["tmaze-c10-n1-s0-0"]
    assert not first["result"]["agents_reused"]
    # the RL row's record holds every hyperparameter, the learning rule among them
    assert first["settings"]["agent"]["learning_starts_unit"] == "episodes"
    row = next(r for r in tt.ROWS if r.name == "tmaze-c10-n1")
    monkeypatch.setattr(tt, "ROWS", (tt.Row(**{**vars(row), "twin": {"step_ms": 200.0}}),))

    def no_training(*args, **kwargs):
        raise AssertionError("trained again")

    monkeypatch.setattr(tt, "train_population", no_training)
    again = tt.run_twin_tables(settings, tmp_path)["tmaze-c10-n1-s0-0"]
    assert again["result"]["agents_reused"] and again["settings"] != first["settings"]
    (a,), (b,) = first["result"]["members"], again["result"]["members"]
    assert set(a["agreement_by_step"]) == {"300"} and set(b["agreement_by_step"]) == {"200"}
    assert a["analog_success"] == b["analog_success"] and a["timesteps"] == b["timesteps"]
    # other training: the saved agents do not count, and the block trains again
    other = tt.TwinTableSettings(**{**vars(settings), "hyperparams": {"kappa": 0.25}})
    with pytest.raises(AssertionError, match="trained again"):
        tt.run_twin_tables(other, tmp_path)


def test_the_seeds_that_miss_are_named_with_by_how_much():
    def member(seed, twin=1.0, agreement=1.0, rate=8.0):
        return {"seed": seed, "analog_success": 1.0, "twin_success": twin, "agreement": agreement,
                "determined_agreement": agreement, "rates_hz": {"overall": rate}}  # fmt: skip

    settings = tt.TwinTableSettings()
    assert tt.misses_text([member(0), member(1, twin=0.99, agreement=0.995, rate=10.0)], settings) == ""
    text = tt.misses_text([member(3, agreement=0.98, rate=12.5), member(2, twin=0.96)], settings)
    assert text == (
        "seed 2 twin success 0.96 against 1.00, seed 3 agreement 98.00 % (1.50 points short) and rate 12.5 Hz"
    )


def _member(seed, twin=1.0, agreement=1.0, rate=8.0):
    """A stored member record with every field the tables read."""
    return {
        "seed": seed, "analog_success": 1.0, "twin_success": twin, "agreement": agreement,
        "determined_agreement": agreement, "final_agreement": 1.0, "shortest_step_ms": 200.0,
        "rates_hz": {"overall": rate} | {p: rate for p in tt.POP_SHORT}, "synops_per_decision": 100.0,
        "analog_macs_per_step": 408,
    }  # fmt: skip


def _record(name, members):
    machine = dict.fromkeys(
        ("cpu", "cores", "torch_threads", "python", "torch", "gymnasium", "stable_baselines3", "sb3_contrib",
         "load_average", "date", "commit"), "x",
    )  # fmt: skip
    return {"settings": {"row": {"name": name}, "twin": {}}, "result": {"members": members},
            "machine": machine, "command": "sublstm twin-tables"}  # fmt: skip


def test_held_out_seeds_are_counted_apart_from_the_seeds_the_settings_were_chosen_on():
    assert tt.seed_ranges([8, 0, 1, 2, 5, 7]) == "0-2, 5, 7-8" and tt.seed_ranges(range(16, 32)) == "16-31"
    assert list(tt.SETTINGS_CHOSEN_ON) == list(range(16))
    settings = tt.TwinTableSettings()
    chosen = [_member(s, agreement=0.99 if s == 3 else 1.0) for s in range(16)]
    held = [
        _member(s, rate=12.0 if s in (20, 21) else 8.0, twin=0.9 if s == 21 else 1.0) for s in range(16, 32)
    ]
    records = [
        _record("tmaze-c10-n0", chosen[::-1]),  # seeds 0-15 only: rendered as before
        _record("tmaze-c10-n1", chosen),
        _record("tmaze-c10-n1", held),
    ]
    text = tt.block(records, settings)
    assert "| tmaze-c10-n1 | 32 |" in text and "| 31 / 31 / 30 |" in text  # the main table counts all seeds
    assert "| tmaze-c10-n0 | 16 |" in text and "| 16 / 15 / 16 |" in text
    assert (
        "| tmaze-c10-n1 | seeds 0-15: 16 / 15 / 16 of 16 (all three: 15) | "
        "seeds 16-31: 15 / 16 / 14 of 16 (all three: 14) |"
    ) in text
    assert "| tmaze-c10-n0 | seeds" not in text  # no held-out seeds: no split
    assert "14 of 16 held-out seeds, against 15 of 16 seeds the settings were chosen on" in text
    assert (
        "meet all three (as a share of the row's seeds) on tmaze-c10-n1 (14 of 16 against 15 of 16)." in text
    )
    assert "seed 21 twin success 0.90 against 1.00 and rate 12.0 Hz" in text  # the misses stay
    assert "Levers tried on the T-maze rows (seeds 0-15 of each row" in text
    # as many held-out seeds meet all three (15 of 16, a share like the chosen seeds'): no row named
    held[5] = _member(21)
    text = tt.block([_record("tmaze-c10-n1", chosen), _record("tmaze-c10-n1", held)], settings)
    assert "15 of 16 held-out seeds, against 15 of 16" in text and "On no row does a smaller share" in text
    # no row with held-out seeds: nothing about them
    only_chosen = tt.block([_record("tmaze-c10-n1", chosen)], settings)
    assert "held out: seeds meeting" not in only_chosen and "held-out seeds" not in only_chosen
