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
def saved(trained_checkpoint):
    return trained_checkpoint(400)  # (agent, path): some optimizer state and counters


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


def killed_save(path):
    """Run a save in a child process that dies just before the rename; return the finished child."""
    import subprocess
    import sys

    code = (
        "import os, sys\n"
        "from sublstm.agents import checkpoint as c\n"
        "c.os.replace = lambda *a: os._exit(9)\n"
        "c.save_checkpoint(sys.argv[1], {'a': 1}, {'x': 1})\n"
    )
    child = subprocess.Popen([sys.executable, "-c", code, str(path)])
    assert child.wait() == 9
    return child


def test_temp_files_of_killed_saves_are_removed_by_the_next_save(tmp_path):
    path = tmp_path / "agent.pt"
    first = killed_save(path)
    (left,) = os.listdir(tmp_path)
    assert left.startswith(f".agent.pt.{first.pid}.") and left.endswith(".tmp")  # the writer's pid
    second = killed_save(path)  # the next writer removes the dead one's temp file ...
    (left,) = os.listdir(tmp_path)
    assert left.startswith(f".agent.pt.{second.pid}.")
    save_checkpoint(path, {"a": 2}, {"x": 2})  # ... and so does a save that completes
    assert sorted(os.listdir(tmp_path)) == ["agent.pt"]
    assert load_checkpoint(path)[0]["a"] == 2


def test_stale_temp_cleanup_keeps_live_writers_and_other_targets(tmp_path):
    import time

    old = time.time() - 2 * ckpt_mod.STALE_TEMP_SECONDS

    def temp(name, age=None):
        p = tmp_path / name
        p.write_bytes(b"partial")
        if age is not None:
            os.utime(p, (age, age))
        return p

    live_fresh = temp(f".c.pt.{os.getppid()}.abc123.tmp")  # a live writer mid-save
    own_fresh = temp(f".c.pt.{os.getpid()}.def456.tmp")
    live_old = temp(f".c.pt.{os.getppid()}.ghi789.tmp", age=old)  # pid reused by now
    legacy_fresh = temp(".c.pt.k2j3h4.tmp")  # name from before the pid was embedded
    legacy_old = temp(".c.pt.x9y8z7.tmp", age=old)
    other_target = temp(f".c.pt.bak.{2**22 + 7}.q1w2e3.tmp", age=old)
    unrelated = temp("notes.tmp", age=old)
    removed = ckpt_mod.remove_stale_temp_files(tmp_path / "c.pt")
    assert sorted(removed) == sorted([live_old, legacy_old])
    for kept in (live_fresh, own_fresh, legacy_fresh, other_target, unrelated):
        assert kept.exists(), kept.name
