"""Checkpoints: round trip, refusal of bad files, atomic writes."""

import json
import os

import numpy as np
import pytest
from sublstm.agents import AdvantageAgent, CheckpointError
from sublstm.agents import checkpoint as ckpt_mod
from sublstm.agents.checkpoint import MAGIC, load_checkpoint, save_checkpoint

ENV = "sublstm/NoisyTMaze-v0"


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    agent = AdvantageAgent(
        ENV,
        env_kwargs={"corridor_length": 3},
        seed=3,
        n_hidden=6,
        n_cells=4,
        n_envs=2,
        batch_episodes=4,
        learning_starts=4,
    )
    agent.learn(400, progress_bar=False, eval_interval=0)  # some optimizer state and counters
    path = tmp_path_factory.mktemp("ckpt") / "agent.pt"
    agent.save(path)
    return agent, path


def rollout_actions(agent, seed=0, steps=12):
    rng = np.random.default_rng(seed)
    obs = rng.random((steps, 5, 3)).astype(np.float32)
    state, out = None, []
    for t in range(steps):
        action, state = agent.predict(obs[t], state=state, episode_start=np.full(5, t == 0))
        out.append(action)
    return np.stack(out)


def test_save_load_gives_identical_actions_config_and_progress(saved):
    agent, path = saved
    loaded = AdvantageAgent.load(path)
    assert np.array_equal(rollout_actions(agent), rollout_actions(loaded))
    for (k, a), (_, b) in zip(
        agent.network.state_dict().items(), loaded.network.state_dict().items(), strict=True
    ):
        assert np.array_equal(a.numpy(), b.numpy()), k
    assert loaded.config() == agent.config()
    assert (loaded.env_id, loaded.env_kwargs) == (ENV, {"corridor_length": 3})
    assert (loaded.num_timesteps, loaded.num_updates) == (agent.num_timesteps, agent.num_updates)
    assert agent.num_updates > 0 and loaded.optimizer.state_dict()["state"]  # Adam moments came back
    assert len(loaded.buffer) == len(agent.buffer) > 0
    for a, b in zip(agent.buffer, loaded.buffer, strict=True):
        assert np.array_equal(a.obs, b.obs) and np.array_equal(a.actions, b.actions)
        assert np.array_equal(a.rewards, b.rewards) and (a.terminated, a.success) == (b.terminated, b.success)


def expect_refused(path, match):
    with pytest.raises(CheckpointError, match=match) as info:
        AdvantageAgent.load(path)
    assert str(path) in str(info.value)


def test_truncated_file_is_refused(saved, tmp_path):
    data = saved[1].read_bytes()
    bad = tmp_path / "truncated.pt"
    bad.write_bytes(data[: len(data) - 100])
    expect_refused(bad, "truncated")


def test_corrupted_file_is_refused(saved, tmp_path):
    data = bytearray(saved[1].read_bytes())
    data[len(data) // 2] ^= 0xFF  # one flipped byte inside the tensor data
    bad = tmp_path / "corrupted.pt"
    bad.write_bytes(bytes(data))
    expect_refused(bad, "corrupted")


def test_foreign_file_is_refused(tmp_path):
    import torch

    bad = tmp_path / "foreign.pt"
    torch.save({"weights": torch.zeros(3)}, bad)
    expect_refused(bad, "not a sublstm checkpoint")
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    expect_refused(text, "not a sublstm checkpoint")


def test_wrong_version_is_refused(saved, tmp_path):
    data = saved[1].read_bytes()
    header_end = data.index(b"\n", len(MAGIC))
    header = json.loads(data[len(MAGIC) : header_end])
    header["format_version"] = 999
    bad = tmp_path / "future.pt"
    bad.write_bytes(MAGIC + json.dumps(header).encode() + data[header_end:])
    expect_refused(bad, "version 999")


def test_missing_file_is_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError):
        load_checkpoint(tmp_path / "nope.pt")


def test_failed_save_leaves_previous_file_intact(tmp_path, monkeypatch):
    path = tmp_path / "c.pt"
    save_checkpoint(path, {"a": 1}, {"x": 1})
    before = path.read_bytes()

    def broken_fsync(fd):
        raise OSError("disk full")

    monkeypatch.setattr(ckpt_mod.os, "fsync", broken_fsync)
    with pytest.raises(OSError, match="disk full"):
        save_checkpoint(path, {"a": 2}, {"x": 2})
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert load_checkpoint(path)[0]["a"] == 1
    assert sorted(os.listdir(tmp_path)) == ["c.pt"]  # no temp file left behind


def test_config_must_be_json(tmp_path):
    with pytest.raises(ValueError, match="JSON"):
        save_checkpoint(tmp_path / "c.pt", {"f": object()}, {})
    assert not (tmp_path / "c.pt").exists()
