"""Damaged or crafted checkpoint content behind a valid checksum is a CheckpointError naming file and field.

Every case starts from a real checkpoint, changes its config or state, and writes it back with a
recomputed header (size and sha256), so only the content checks can catch it.
"""

import functools
import hashlib
import io
import json
import sys

import pytest
import torch
from sublstm.agents import AdvantageAgent, CheckpointError
from sublstm.agents.checkpoint import MAGIC, load_checkpoint

ENV = "sublstm/NoisyTMaze-v0"


@pytest.fixture(scope="module")
def saved(trained_checkpoint):
    return trained_checkpoint(300, target_update_interval=5)[1]  # optimizer moments, buffer, counters


def write_payload(path, payload):
    """A checkpoint file of ``payload`` (any torch-saveable body) with a valid header."""
    buffer = io.BytesIO()
    torch.save(payload, buffer)
    body = buffer.getvalue()
    header = {"format_version": 1, "package_version": "test", "size": len(body)}
    header["sha256"] = hashlib.sha256(body).hexdigest()
    path.write_bytes(MAGIC + json.dumps(header).encode() + b"\n" + body)
    return path


def tampered(saved, tmp_path, change):
    """A copy of the saved checkpoint with ``change(config, state)`` applied, checksum recomputed."""
    config, state = load_checkpoint(saved)
    config.pop("_package_version")
    change(config, state)
    return write_payload(tmp_path / "tampered.pt", {"config": json.dumps(config), "state": state})


def refused(path, field, match=None, **load_kwargs):
    with pytest.raises(CheckpointError, match=match) as info:
        AdvantageAgent.load(path, **load_kwargs)
    message = str(info.value)
    assert str(path) in message and f"field {field!r}" in message, message
    assert info.value.field == field
    return message


def setter(section, key, value):
    def change(config, state):
        (config if section == "config" else state)[key] = value

    return change


def deleter(section, key):
    def change(config, state):
        del (config if section == "config" else state)[key]

    return change


def test_untouched_copy_loads(saved, tmp_path):
    agent = AdvantageAgent.load(tampered(saved, tmp_path, lambda c, s: None))
    assert agent.num_updates > 0 and len(agent.buffer) > 0


@pytest.mark.parametrize(
    "change, field, match",
    [
        (setter("config", "kind", "Trojan"), "config.kind", "Trojan"),
        (deleter("config", "core"), "config.core", "missing"),
        (setter("config", "payload", "x"), "config.payload", "unexpected"),
        (setter("config", "core", "asn-sublstmm"), "config.core", "did you mean 'asn-sublstm'"),
        (setter("config", "seed", "0"), "config.seed", "must be int"),
        (setter("config", "seed", True), "config.seed", "must be int"),
        (setter("config", "obs_dim", 0), "config.obs_dim", ">= 1"),
        (setter("config", "obs_dim", 5), "config.obs_dim", "trained with 5, the env has 3"),
        (setter("config", "n_actions", 2), "config.n_actions", "trained with 2"),
        (setter("config", "env_kwargs", ["corridor_length"]), "config.env_kwargs", "must be dict"),
        (setter("config", "hyperparams", None), "config.hyperparams", "must be dict"),
    ],
)
def test_config_fields(saved, tmp_path, change, field, match):
    refused(tampered(saved, tmp_path, change), field, match)


def entry(group, name, value):
    """A change of ``config[group][name]``: set to ``value``, or deleted when ``value`` is KeyError."""

    def change(config, state):
        if value is KeyError:
            del config[group][name]
        else:
            config[group][name] = value

    return change


hyperparam = functools.partial(entry, "hyperparams")
asn = functools.partial(entry, "asn")


@pytest.mark.parametrize(
    "change, field, match",
    [
        (hyperparam("n_hiden", 6), "config.hyperparams.n_hiden", "did you mean 'n_hidden'"),
        (hyperparam("n_hidden", KeyError), "config.hyperparams.n_hidden", "missing"),
        (hyperparam("n_hidden", 0), "config.hyperparams", "n_hidden must be a positive integer"),
        (hyperparam("gamma", 1.5), "config.hyperparams", "gamma"),
        (hyperparam("learning_rate", [1e-3]), "config.hyperparams.learning_rate", "plain value"),
    ],
)
def test_hyperparameters_must_be_known_complete_and_valid(saved, tmp_path, change, field, match):
    refused(tampered(saved, tmp_path, change), field, match)


def test_checkpoint_from_before_learning_starts_unit_loads_counting_episodes(saved, tmp_path):
    """Written before the field existed (an AdvantageAgent then always counted episodes)."""
    agent = AdvantageAgent.load(tampered(saved, tmp_path, hyperparam("learning_starts_unit", KeyError)))
    assert agent.hp.learning_starts_unit == "episodes" and agent.num_updates > 0
    refused(
        tampered(saved, tmp_path, hyperparam("learning_starts_unit", "minutes")),
        "config.hyperparams",
        "learning_starts_unit",
    )


@pytest.mark.parametrize(
    "change, field",
    [(asn("tau_phi", -1.0), "config.asn"), (asn("tau_phi", KeyError), "config.asn.tau_phi")],
)
def test_neuron_parameters(saved, tmp_path, change, field):
    refused(tampered(saved, tmp_path, change), field)


def env_kwargs(value):
    return lambda config, state: config["env_kwargs"].update(value)


@pytest.mark.parametrize(
    "change, field, match",
    [
        (setter("config", "env_id", None), "config.env_id", "names no env id; pass env="),
        (setter("config", "env_id", "sublstm/NoisyTmaze-v0"), "config.env_id", "did you mean"),
        (env_kwargs({"corridor_lenght": 4}), "config.env_kwargs", "did you mean 'corridor_length'"),
        (env_kwargs({"corridor_length": -4}), "config.env_kwargs", "corridor_length must be"),
        (env_kwargs({"corridor_length": 10**12}), "config.env_kwargs", "<= 10_000"),
    ],
)
def test_env_id_and_kwargs(saved, tmp_path, change, field, match):
    refused(tampered(saved, tmp_path, change), field, match)


def test_env_id_with_module_part_never_imports_it(saved, tmp_path, monkeypatch):
    # the attack: a module next to the checkpoint, named by the checkpoint's env id
    (tmp_path / "planted_ckpt_module.py").write_text("import sys\nsys.planted_ckpt_ran = True\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.chdir(tmp_path)
    path = tampered(saved, tmp_path, setter("config", "env_id", f"planted_ckpt_module:{ENV}"))
    refused(path, "config.env_id", "names a module to import.*allow_module_import=True")
    assert "planted_ckpt_module" not in sys.modules and not hasattr(sys, "planted_ckpt_ran")
    # the caller's own env: the stored id is not used at all
    AdvantageAgent.load(path, env=ENV)
    assert "planted_ckpt_module" not in sys.modules
    # explicitly trusted: imported, as gymnasium.make does
    agent = AdvantageAgent.load(path, allow_module_import=True)
    assert sys.planted_ckpt_ran and agent.env_id == f"planted_ckpt_module:{ENV}"
    del sys.planted_ckpt_ran, sys.modules["planted_ckpt_module"]


def network_entry(key, make):
    def change(config, state):
        state["network"][key] = make(state["network"][key])

    return change


@pytest.mark.parametrize(
    "change, field, match",
    [
        (deleter("state", "network"), "state.network", "missing"),
        (setter("state", "payload", torch.zeros(1)), "state.payload", "unexpected"),
        (network_entry("head.weight", lambda w: w.round().long()), "state.network.head.weight", "dtype"),
        (network_entry("head.weight", lambda w: w.double()), "state.network.head.weight", "dtype"),
        (network_entry("head.weight", lambda w: w[:, :-1]), "state.network.head.weight", "shape"),
        (network_entry("head.bias", lambda b: b * float("nan")), "state.network.head.bias", "NaN"),
        (network_entry("head.bias", lambda b: b.tolist()), "state.network.head.bias", "tensor"),
        (lambda c, s: s["network"].pop("hidden.bias"), "state.network.hidden.bias", "missing"),
        (lambda c, s: s["network"].update(extra=torch.zeros(2)), "state.network.extra", "unexpected"),
        (setter("state", "network", [1, 2]), "state.network", "mapping"),
        (lambda c, s: s["target_network"].pop("head.bias"), "state.target_network.head.bias", "missing"),
        (
            lambda c, s: c["hyperparams"].update(target_update_interval=0),
            "state.target_network",
            "no target network",
        ),
    ],
)
def test_weights(saved, tmp_path, change, field, match):
    refused(tampered(saved, tmp_path, change), field, match)


def optimizer_change(change_opt):
    return lambda config, state: change_opt(state["optimizer"])


@pytest.mark.parametrize(
    "change, field, match",
    [
        (
            optimizer_change(lambda o: o["state"][0].update(exp_avg=torch.zeros(3, 3))),
            "state.optimizer.state.0.exp_avg",
            "shape",
        ),
        (
            optimizer_change(lambda o: o["state"][0].update(step=torch.tensor(float("nan")))),
            "state.optimizer.state.0.step",
            "finite",
        ),
        (
            optimizer_change(lambda o: o["state"].update({99: {}})),
            "state.optimizer.state.99",
            "names no parameter",
        ),
        (
            optimizer_change(lambda o: o["param_groups"].append({})),
            "state.optimizer.param_groups",
            "1 parameter",
        ),
        (
            optimizer_change(lambda o: o["param_groups"][0].update(params=[0, 1])),
            "state.optimizer.param_groups.0.params",
            "must list",
        ),
        (optimizer_change(lambda o: o.pop("state")), "state.optimizer.state", "missing"),
    ],
)
def test_optimizer_state(saved, tmp_path, change, field, match):
    refused(tampered(saved, tmp_path, change), field, match)


@pytest.mark.parametrize(
    "name, value, match",
    [
        ("num_timesteps", -1, ">= 0"),
        ("num_episodes", "12", "integer"),
        ("num_updates", 2.5, "integer"),
        ("train_wall_s", float("nan"), "finite"),
        ("train_wall_s", "1.0", "finite"),
    ],
)
def test_counters(saved, tmp_path, name, value, match):
    refused(tampered(saved, tmp_path, setter("state", name, value)), f"state.{name}", match)


def buffer_change(change_buffer):
    return lambda config, state: change_buffer(state["buffer"])


def bump_first_length(b):
    b["lengths"][0] += 1  # the flat tensors no longer add up to the lengths


@pytest.mark.parametrize(
    "change, field, match",
    [
        (buffer_change(bump_first_length), "state.buffer.obs", "shape"),
        (buffer_change(lambda b: b.update(actions=b["actions"][:-1])), "state.buffer.actions", "shape"),
        (buffer_change(lambda b: b.update(actions=b["actions"].float())), "state.buffer.actions", "dtype"),
        (buffer_change(lambda b: b.update(obs=b["obs"].double())), "state.buffer.obs", "dtype"),
        (buffer_change(lambda b: b.update(obs=b["obs"][:, :2])), "state.buffer.obs", "shape"),
        (buffer_change(lambda b: b["actions"].fill_(7)), "state.buffer.actions", "outside 0 .. 3"),
        (buffer_change(lambda b: b["lengths"].fill_(0)), "state.buffer.lengths", ">= 1"),
        (buffer_change(lambda b: b["success"].fill_(5)), "state.buffer.success", "-1"),
        (buffer_change(lambda b: b.pop("terminated")), "state.buffer.terminated", "missing"),
        (buffer_change(lambda b: b["rewards"].fill_(float("inf"))), "state.buffer.rewards", "infinite"),
        (setter("state", "buffer", [1, 2]), "state.buffer", "mapping"),
    ],
)
def test_replay_buffer_packing(saved, tmp_path, change, field, match):
    refused(tampered(saved, tmp_path, change), field, match)


def test_rng_entry_is_optional(saved, tmp_path):
    AdvantageAgent.load(tampered(saved, tmp_path, lambda c, s: s.pop("rng", None)))


def rng_entry(**parts):
    return lambda config, state: state.setdefault("rng", {}).update(parts)


@pytest.mark.parametrize(
    "change, field",
    [
        (setter("state", "rng", "seed"), "state.rng"),
        (rng_entry(torch=torch.zeros(5)), "state.rng.torch"),
        (rng_entry(numpy=torch.zeros(10, dtype=torch.int64).to_sparse()), "state.rng.numpy"),
    ],
)
def test_bad_rng_entry(saved, tmp_path, change, field):
    refused(tampered(saved, tmp_path, change), field)


def test_body_without_state_or_json_config(saved, tmp_path):
    path = write_payload(tmp_path / "a.pt", {"config": "{not json", "state": {}})
    with pytest.raises(CheckpointError, match="unreadable checkpoint body") as info:
        AdvantageAgent.load(path)
    assert str(path) in str(info.value)
    path = write_payload(tmp_path / "b.pt", {"config": json.dumps({"kind": "AdvantageAgent"})})
    with pytest.raises(CheckpointError, match="unreadable checkpoint body"):
        AdvantageAgent.load(path)
