"""learn() as stable-baselines3 users expect it: more steps per call, SB3 callbacks, why it stopped,
one line per evaluation, settings as a dataclass, torch threads, rate estimates from the start."""

import dataclasses
import math
from collections import Counter

import numpy as np
import pytest
import torch
from stable_baselines3.common.callbacks import BaseCallback, CallbackList, StopTrainingOnMaxEpisodes
from sublstm.agents import AdvantageAgent, LearnSettings

ENV = "sublstm/TMaze-v0"
SMALL = dict(n_hidden=4, n_cells=3, n_envs=2, batch_episodes=4, learning_starts=4)


def small_agent(**kw):
    return AdvantageAgent(ENV, env_kwargs={"corridor_length": 2}, seed=0, **(SMALL | kw))


def test_learn_trains_that_many_more_steps_each_call():
    agent = small_agent()
    agent.learn(40, progress_bar=False, eval_interval=0)
    assert agent.num_timesteps == 40
    agent.learn(40, progress_bar=False, eval_interval=0)  # the old semantics stopped at once here
    assert agent.num_timesteps == 80
    assert agent.stop_reason == "total_timesteps reached"
    agent.learn(20, progress_bar=False, eval_interval=0, reset_num_timesteps=True)
    assert agent.num_timesteps == 20 and agent.num_episodes <= 20


def test_evaluations_continue_on_the_absolute_schedule_across_calls(monkeypatch):
    agent = small_agent(learning_starts=10_000)
    monkeypatch.setattr(agent, "evaluate", lambda n: {"success_rate": 0.0, "mean_return": 0.0})
    agent.learn(30, progress_bar=False, eval_interval=20)
    agent.learn(30, progress_bar=False, eval_interval=20)
    assert [r["timesteps"] for r in agent.history] == [20, 40, 60]


class Counting(BaseCallback):
    """Counts every hook and checks what SB3 callbacks rely on (model, num_timesteps, locals)."""

    def __init__(self):
        super().__init__()
        self.calls = Counter()
        self.dones = 0

    def _init_callback(self):
        self.calls["init"] += 1
        assert self.training_env.num_envs == 2

    def _on_training_start(self):
        self.calls["training_start"] += 1

    def _on_rollout_start(self):
        self.calls["rollout_start"] += 1

    def _on_rollout_end(self):
        self.calls["rollout_end"] += 1

    def _on_step(self):
        self.calls["step"] += 1
        assert self.num_timesteps == self.model.num_timesteps
        assert self.locals["dones"].shape == (2,) and len(self.locals["infos"]) == 2
        assert self.locals["rewards"].shape == (2,) and self.locals["actions"].shape == (2,)
        self.dones += int(np.sum(self.locals["dones"]))
        return True

    def _on_training_end(self):
        self.calls["training_end"] += 1


def test_an_sb3_callback_is_driven_as_sb3_drives_it():
    agent, cb = small_agent(), Counting()
    agent.learn(40, callback=cb, progress_bar=False, eval_interval=0)
    assert cb.model is agent
    assert cb.calls == Counter(
        init=1, training_start=1, rollout_start=20, rollout_end=20, step=20, training_end=1
    )
    assert (cb.n_calls, cb.num_timesteps) == (20, 40)
    assert cb.dones == agent.num_episodes > 0
    agent.learn(40, callback=cb, progress_bar=False, eval_interval=0)
    assert (cb.n_calls, cb.num_timesteps, cb.calls["init"]) == (40, 80, 2)


def test_sb3_stop_callbacks_and_lists_stop_training():
    agent, counting = small_agent(), Counting()
    stop = StopTrainingOnMaxEpisodes(max_episodes=3)  # 3 per env: 6 episodes in all
    agent.learn(10_000, callback=[counting, stop], progress_bar=False, eval_interval=0)
    assert agent.stop_reason == "callback"
    assert stop.n_episodes >= 6 and agent.num_episodes == stop.n_episodes
    assert agent.num_timesteps < 200 and counting.calls["step"] == agent.num_timesteps // 2
    assert counting.calls["training_end"] == 1
    agent.learn(20, callback=CallbackList([Counting()]), progress_bar=False, eval_interval=0)


def test_a_plain_function_can_stop_training():
    agent = small_agent()
    agent.learn(10_000, callback=lambda event: event["episode"] < 3, progress_bar=False, eval_interval=0)
    assert agent.stop_reason == "callback" and agent.num_episodes < 10


@pytest.mark.parametrize("bad", [[lambda e: None], "print", 3])
def test_bad_callbacks_are_refused_before_training(bad):
    agent = small_agent()
    with pytest.raises(ValueError, match="callback"):
        agent.learn(20, callback=bad, progress_bar=False, eval_interval=0)
    assert agent.num_timesteps == 0


def test_bar_total_is_this_call_and_the_stop_is_explained(monkeypatch, capsys):
    agent = small_agent(learning_starts=10_000)
    agent.learn(20, progress_bar=False, eval_interval=0)
    monkeypatch.setattr(agent, "evaluate", lambda n: {"success_rate": 0.987654321, "mean_return": 1.0})
    agent.learn(1000, eval_interval=10, stop_at_success=0.95, stop_patience=2)
    out, err = capsys.readouterr()
    assert "/1000" in err  # the bar counts this call's steps, not the counter's target
    assert agent.stop_reason == "success >= 0.95 in 2 evaluations in a row"
    assert "stopped at 40 steps: success >= 0.95 in 2 evaluations in a row" in out


def test_verbose_prints_one_rounded_line_per_evaluation(monkeypatch, capsys):
    agent = small_agent(learning_starts=10_000, verbose=1)
    monkeypatch.setattr(agent, "evaluate", lambda n: {"success_rate": 0.123456789, "mean_return": -0.98765})
    agent.learn(40, progress_bar=False, eval_interval=20)
    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith("eval")]
    assert len(lines) == 2
    assert lines[0].startswith("eval at 20 steps: success 0.12, mean return -0.988, epsilon ")
    assert lines[0].endswith(" s") and "0.123456789" not in lines[0]


def test_learn_settings_drive_learn():
    settings = LearnSettings(total_timesteps=40, eval_interval=20, eval_episodes=3, stop_at_success=None)
    settings.validate()
    agent = small_agent()
    agent.learn(**dataclasses.asdict(settings), progress_bar=False)
    assert agent.num_timesteps == 40 and len(agent.history) == 2


@pytest.mark.parametrize(
    "field, value",
    [
        ("total_timesteps", 0),
        ("eval_interval", -1),
        ("eval_episodes", 0),
        ("stop_at_success", 1.5),
        ("stop_patience", 0),
        ("stop_at_return", float("nan")),
        ("total_timesteps", True),
    ],
)
def test_bad_learn_settings_are_refused_before_training(field, value):
    with pytest.raises(ValueError, match=field):
        dataclasses.replace(LearnSettings(), **{field: value}).validate()
    agent = small_agent()
    kwargs = dataclasses.asdict(LearnSettings(total_timesteps=20)) | {field: value}
    with pytest.raises(ValueError, match=field):
        agent.learn(**kwargs, progress_bar=False)
    assert agent.num_timesteps == 0  # a bad evaluation count no longer waits for the whole run


@pytest.mark.parametrize("n_threads, inside", [(1, 1), (2, 2), (None, 3)])
def test_learn_sets_torch_threads_inside_and_restores_them(n_threads, inside):
    seen = []
    agent = small_agent(n_threads=n_threads)
    previous = torch.get_num_threads()
    torch.set_num_threads(3)
    try:
        agent.learn(
            20, callback=lambda e: seen.append(torch.get_num_threads()), progress_bar=False, eval_interval=10
        )
        assert torch.get_num_threads() == 3
        agent.evaluate(2)
        agent.predict(np.zeros(3, dtype=np.float32))
        assert torch.get_num_threads() == 3
    finally:
        torch.set_num_threads(previous)
    assert seen and set(seen) == {inside}


def test_bad_thread_counts_are_refused():
    for bad in (0, -1, 1.5, "2"):
        with pytest.raises(ValueError, match="n_threads"):
            small_agent(n_threads=bad)


def test_rate_hz_is_known_from_the_first_step_of_every_call():
    events = []
    agent = small_agent()
    for _ in range(2):  # a resumed run too
        agent.learn(60, callback=events.append, progress_bar=False, eval_interval=0)
    rates = [e["rate_hz"] for e in events if e["event"] == "episode"]
    assert len(rates) >= 4 and all(math.isfinite(r) and r > 0 for r in rates)
