"""The shared foundation: config resolution, the run store, reporting helpers, encoder and rollout."""

from __future__ import annotations

import json
from dataclasses import dataclass

import gymnasium as gym
import numpy as np
import pytest
from gymnasium import spaces
from sublstm.agents.encoding import ObservationEncoder
from sublstm.agents.rollout import rollout
from sublstm.experiments import config as cfg
from sublstm.experiments.reporting import first_reaching, fmt, replace_section, write_block, write_json
from sublstm.experiments.store import RunStore


@dataclass
class Section:
    rate: float = 0.1
    steps: int = 10
    name: str = "x"
    limit: int | None = None

    def validate(self) -> None:
        if self.steps < 1:
            raise ValueError(f"steps must be >= 1, got {self.steps}")


def test_key_values_parse_literals_and_dotted_keys():
    out = cfg.parse_key_values(["a.b=3", "c=0.5", "d=hello", "e=[1, 2]", "f=None"], "overrides")
    assert out == {"a.b": 3, "c": 0.5, "d": "hello", "e": [1, 2], "f": None}
    with pytest.raises(cfg.ConfigError, match="overrides.*'nokey'"):
        cfg.parse_key_values(["nokey"], "overrides")


@pytest.mark.parametrize("suffix", [".toml", ".yaml", ".json"])
def test_config_file_formats_and_overrides(tmp_path, suffix):
    text = {
        ".toml": "[agent]\nrate = 0.2\nsteps = 5\n",
        ".yaml": "agent:\n  rate: 0.2\n  steps: 5\n",
        ".json": json.dumps({"agent": {"rate": 0.2, "steps": 5}}),
    }[suffix]
    path = tmp_path / f"run{suffix}"
    path.write_text(text)
    merged = cfg.merge_overrides(cfg.load_config_file(path), {"agent.steps": 7})
    section = cfg.build(Section, merged["agent"], "agent")
    assert (section.rate, section.steps) == (0.2, 7)


def test_build_refuses_unknown_keys_wrong_types_and_invalid_values():
    with pytest.raises(cfg.ConfigError, match=r"agent\.stpes.*did you mean 'steps'"):
        cfg.build(Section, {"stpes": 3}, "agent")
    with pytest.raises(cfg.ConfigError, match=r"agent\.steps"):
        cfg.build(Section, {"steps": "many"}, "agent")
    with pytest.raises(cfg.ConfigError, match="steps must be >= 1"):
        cfg.build(Section, {"steps": 0}, "agent")
    assert cfg.build(Section, {"rate": 1, "limit": None}, "agent").rate == 1.0


def test_config_file_errors_name_the_file(tmp_path):
    with pytest.raises(cfg.ConfigError, match="no such file"):
        cfg.load_config_file(tmp_path / "missing.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[agent\n")
    with pytest.raises(cfg.ConfigError, match="bad.toml"):
        cfg.load_config_file(bad)
    other = tmp_path / "run.ini"
    other.write_text("")
    with pytest.raises(cfg.ConfigError, match="unknown format"):
        cfg.load_config_file(other)


def test_run_store_resumes_only_runs_with_the_same_settings(tmp_path):
    store = RunStore(tmp_path / "runs")
    store.put("a-s0", {"settings": {"budget": 1}, "result": 0.5})
    assert store.get("a-s0", {"budget": 1})["result"] == 0.5
    assert store.get("a-s0", {"budget": 2}) is None
    assert store.pending(["a-s0", "a-s1"], {"budget": 1}) == ["a-s1"]
    assert list(store.all()) == ["a-s0"]
    assert not list((tmp_path / "runs").glob("*.tmp"))
    with pytest.raises(ValueError, match="run name"):
        store.put("../escape", {})


def test_first_reaching_skips_nan_and_casts_steps():
    evals = [
        {"timesteps": 5.0, "success_rate": float("nan"), "wall_s": 1.0},
        {"timesteps": 10.0, "success_rate": 0.5, "wall_s": 2.0},
        {"timesteps": 15.0, "success_rate": 0.96, "wall_s": 3.25},
    ]
    assert first_reaching(evals) == 15 and isinstance(first_reaching(evals), int)
    assert first_reaching(evals, "wall_s") == 3.25
    assert first_reaching(evals, threshold=0.99) is None
    assert fmt(float("nan")) == "–" and fmt(63.20964685300004, ".1f") == "63.2"


def test_doc_writers_replace_only_their_own_part(tmp_path):
    doc = tmp_path / "doc.md"
    replace_section(doc, "A", "first", doc_title="# Doc")
    replace_section(doc, "B", "second")
    replace_section(doc, "A", "changed")
    text = doc.read_text()
    assert text.startswith("# Doc") and "changed" in text and "first" not in text and "second" in text
    write_block(doc, "k1", "one", section="B")
    write_block(doc, "k2", "two", section="B")
    write_block(doc, "k1", "uno", section="B")
    text = doc.read_text()
    assert "uno" in text and "two" in text and "one\n" not in text
    write_json(tmp_path / "x.json", {"v": np.float32(0.5), "a": np.arange(2)})
    assert json.loads((tmp_path / "x.json").read_text()) == {"v": 0.5, "a": [0, 1]}


def test_encoder_flattens_like_sb3():
    space = spaces.Dict({"pos": spaces.Discrete(3), "v": spaces.Box(0, 1, (2,))})
    enc = ObservationEncoder(space)
    assert enc.dim == 5
    vec = enc({"pos": 2, "v": np.array([0.25, 0.5], dtype=np.float32)})
    np.testing.assert_allclose(vec, [0, 0, 1, 0.25, 0.5])
    md = ObservationEncoder(spaces.MultiDiscrete([2, 3]))
    batch, single = md.batch(np.array([[1, 0], [0, 2]]))
    assert not single and batch.tolist() == [[0, 1, 1, 0, 0], [1, 0, 0, 0, 1]]
    with pytest.raises(ValueError, match="unsupported observation space"):
        ObservationEncoder(spaces.Text(5))
    with pytest.raises(ValueError, match="outside the space"):
        ObservationEncoder(spaces.Discrete(3)).batch(np.array([5]))


def test_rollout_scores_a_scripted_policy_and_flags_missing_success():
    import sublstm.envs  # noqa: F401  (registers the ids)
    from sublstm.envs import EAST, NORTH, SOUTH

    envs = [gym.make("sublstm/TMaze-v0", corridor_length=3) for _ in range(4)]
    goals = {}

    def decide(obs, alive):
        actions = np.full(len(obs), EAST)
        for k, o in enumerate(obs):
            if o[0] == 1 and o[1] == 1:  # the road sign
                goals[k] = NORTH
            elif o[0] == 0 and o[1] == 1 and o[2] == 1:
                goals[k] = SOUTH
            elif o.tolist() == [0, 1, 0]:  # the junction
                actions[k] = goals[k]
        return actions

    result = rollout(envs, decide, seeds=[0, 1, 2, 3], record=True)
    assert result.success_rate == 1.0 and result.mean_return == 4.0 and result.mean_length == 4
    assert result.obs.shape == (4, 4, 3) and (result.actions >= 0).all()

    class NoSuccess(gym.Wrapper):
        def step(self, action):
            obs, r, term, trunc, info = self.env.step(action)
            return obs, r, term, trunc, {}

    plain = rollout([NoSuccess(gym.make("sublstm/TMaze-v0", corridor_length=2))], decide, seeds=[0])
    assert not plain.has_success and np.isnan(plain.success_rate)
