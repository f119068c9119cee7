"""Shared test pieces: the hand-set T-maze solution (spiking twin and comparison tests), a small
trained checkpoint (checkpoint tests), and the command line: a command's parser, the check of its
option help, and ``sublstm ARGS`` run in this process."""

import argparse

import pytest
import torch
from sublstm.agents.network import AdvantageNetwork


def handset_tmaze_weights(net: AdvantageNetwork) -> AdvantageNetwork:
    """Hand-set weights that solve the T-maze: one memory cell stores the sign.

    Hidden unit 0 detects the junction [0,1,0], unit 1 "not at the junction". The cell input reads
    x0 and the input gate x2, so the north sign [1,1,0] charges the cell, the south sign [0,1,1]
    discharges it, and the corridor [1,0,1] drives both equally. At the junction the head turns
    north if the cell's output is high, south if it is low; elsewhere it goes east.
    """
    with torch.no_grad():
        for p in net.parameters():
            p.zero_()
        net.hidden.weight[:] = torch.tensor([[-1.0, 1.0, -1.0], [1.0, 0.0, 1.0]])
        net.hidden.bias[:] = torch.tensor([-0.5, -0.5])
        net.core.w_in.weight[:] = torch.tensor([[1.0, 0, 0], [0, 0, 1.0], [0, 0, 0]])
        net.core.w_in.bias[:] = torch.tensor([-0.5, -0.5, -1.0])
        net.head.weight[:] = torch.tensor([[1.0, 0, 2], [0, 2, 0], [1, 0, -2], [0, 0, 0]])
        net.head.bias[:] = torch.tensor([-0.6, 0, 0.6, -1])
    return net


@pytest.fixture
def tmaze_network():
    """A factory of fresh AdvantageNetworks holding the hand-set T-maze solution."""
    return lambda: handset_tmaze_weights(AdvantageNetwork(3, 4, n_hidden=2, n_cells=1))


@pytest.fixture(scope="module")
def set_tmaze_weights():
    """Writes the hand-set T-maze solution into a network of 3 inputs, 2 hidden units, 1 cell."""
    return handset_tmaze_weights


@pytest.fixture(scope="session")
def trained_checkpoint(tmp_path_factory):
    """A function: a small agent on the noisy T-maze (corridor 3, seed 3) trained for ``steps``
    timesteps, so that optimizer moments, replay buffer and counters are filled, and saved in a
    folder of its own -> (agent, path). Keyword arguments are more hyperparameters."""

    def train(steps: int, **hyperparams):
        from sublstm.agents import AdvantageAgent

        agent = AdvantageAgent(
            "sublstm/NoisyTMaze-v0",
            env_kwargs={"corridor_length": 3},
            seed=3,
            n_hidden=6,
            n_cells=4,
            n_envs=2,
            batch_episodes=4,
            learning_starts=4,
            **hyperparams,
        )
        agent.learn(steps, progress_bar=False, eval_interval=0)
        path = tmp_path_factory.mktemp("ckpt") / "agent.pt"
        agent.save(path)
        return agent, path

    return train


@pytest.fixture(scope="session")
def command_parser():
    """A function: the argument parser of a command module (``sublstm.experiments.commands.NAME``),
    with the help formatter ``sublstm NAME`` uses."""

    def build(module) -> argparse.ArgumentParser:
        from sublstm.experiments import cli

        parser = argparse.ArgumentParser(formatter_class=cli.HelpFormatter)
        module.add_arguments(parser)
        return parser

    return build


@pytest.fixture(scope="session")
def check_option_help(command_parser):
    """A function asserting that every option of a command module has a help text showing its default."""

    def check(module) -> None:
        parser = command_parser(module)
        formatter = parser._get_formatter()
        for action in parser._actions:
            if isinstance(action, argparse._HelpAction):
                continue
            assert action.help, action.dest
            shown = formatter._get_help_string(action) % {"default": action.default}
            assert "default" in shown, action.dest

    return check


@pytest.fixture
def run_cli(capsys):
    """A function: ``sublstm ARGS`` through cli.main in this process (each argument as str)
    -> (exit code, stdout, stderr)."""

    def call(*args):
        from sublstm.experiments import cli

        code = cli.main([str(a) for a in args])
        out, err = capsys.readouterr()
        return code, out, err

    return call
