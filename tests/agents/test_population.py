"""The population engine: stacked networks equal separate ones, a stacked update equals separate
updates, members do not depend on each other, members export as ordinary agents."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sublstm.agents import AdvantageAgent, AdvantageNetwork
from sublstm.agents import network as network_module
from sublstm.agents.learner import gradient_step
from sublstm.agents.population import Population
from sublstm.agents.population_network import CELLS, StackedAdam, StackedNetwork
from sublstm.agents.population_random import MemberStreams
from sublstm.agents.population_replay import MemberReplay
from sublstm.agents.replay import Episode

ENV = "sublstm/NoisyTMaze-v0"
# a short corridor and small batches: a few hundred steps exercise every part in about a second
SMALL = dict(
    n_envs=4, batch_episodes=8, learning_starts=20, learning_starts_unit="steps", eps_decay_steps=400
)
KW = {"corridor_length": 3}


def small_population(seeds, **extra):
    return Population(ENV, len(seeds), seeds=seeds, env_kwargs=KW, **{**SMALL, **extra})


@pytest.mark.parametrize("input_gain", [None, 0.3])
@pytest.mark.parametrize("core", sorted(CELLS))
def test_stacked_forward_equals_each_network(core, input_gain):
    torch.manual_seed(0)
    nets = [AdvantageNetwork(3, 4, core=core, input_gain=input_gain) for _ in range(3)]
    stacked = StackedNetwork(nets)
    obs = torch.rand(3, 7, 5, 3)
    resets = torch.rand(3, 7, 5) < 0.2
    q, (h, c), acts = stacked.forward(obs, resets=resets)
    for k, net in enumerate(nets):
        q_k, (h_k, c_k), acts_k = net(obs[k], resets=resets[k])
        torch.testing.assert_close(q[k], q_k, atol=1e-6, rtol=1e-6)
        torch.testing.assert_close(c[k], c_k, atol=1e-6, rtol=1e-6)
        assert set(acts) == set(acts_k)
        for name in acts_k:
            torch.testing.assert_close(acts[name][k], acts_k[name], atol=1e-6, rtol=1e-6)


@pytest.mark.parametrize("with_acts", [False, True])
@pytest.mark.parametrize("core", sorted(CELLS))
def test_stacked_gradients_equal_each_networks(core, with_acts):
    """Training forward (packed by length, fused where the core has a fused step): same gradients."""
    torch.manual_seed(2)
    nets = [AdvantageNetwork(3, 4, core=core) for _ in range(2)]
    stacked = StackedNetwork(nets)
    t_len, b = 6, 3
    obs = torch.rand(2, t_len, b, 3)
    lengths = torch.tensor([[5, 3, 0], [4, 4, 2]])  # obs steps 0 .. L per episode, longest first
    real = (torch.arange(t_len).view(1, -1, 1) <= lengths.unsqueeze(1)).unsqueeze(-1)
    rows = (lengths.unsqueeze(-1) >= torch.arange(t_len)).sum(1).amax(0).tolist()
    q, _, acts = stacked.forward(obs, with_acts=with_acts, rows_per_step=rows)
    # a loss on the activations too (as the rate penalties have), when they are returned
    (q.pow(2) * real).sum().add(sum((a * real).sum() for a in acts.values()) if with_acts else 0).backward()
    for k, net in enumerate(nets):
        q_k, _, acts_k = net(obs[k])
        loss = (q_k.pow(2) * real[k]).sum()
        (loss + sum((a * real[k]).sum() for a in acts_k.values()) if with_acts else loss).backward()
        torch.testing.assert_close(q[k] * real[k], q_k.detach() * real[k], atol=1e-5, rtol=1e-5)
        for name, param in net.named_parameters():
            torch.testing.assert_close(stacked.params[name].grad[k], param.grad, atol=1e-5, rtol=1e-4)


def test_stacked_noise_is_the_networks_noise(monkeypatch):
    """Noise injected where AdvantageNetwork injects it (x into the core, a at the head, h and c)."""
    torch.manual_seed(1)
    net = AdvantageNetwork(3, 4)
    stacked = StackedNetwork([net])
    t_len, b = 4, 2
    obs = torch.rand(1, t_len, b, 3)
    noise = {
        "x": torch.randn(1, t_len, b, 3),
        "h": torch.randn(1, t_len, b, 8),
        "c": torch.randn(1, t_len, b, 8),
        "a": torch.randn(1, t_len, b, 16),
    }
    q, _, _ = stacked.forward(obs, noise={k: 0.1 * v for k, v in noise.items()})
    # AdvantageNetwork draws, in order: x (T, B, D), then h and c at every step, then a (T, B, H)
    draws = (
        [noise["x"][0]] + [n[0, t] for t in range(t_len) for n in (noise["h"], noise["c"])] + [noise["a"][0]]
    )
    queue = iter(draws)
    monkeypatch.setattr(network_module, "_noise", lambda like, std, generator: std * next(queue))
    q_ref, _, _ = net(obs[0], noise_std=0.1, cell_noise_std=0.1)
    torch.testing.assert_close(q[0], q_ref, atol=1e-6, rtol=1e-6)


def _fill(pop, vector_steps):
    for _ in range(vector_steps):
        pop._act_and_store()


def _episodes(batch, k):
    """Member k's share of a population batch as the single agent's Episode objects."""
    episodes = []
    for b, length in enumerate(batch["lengths"][k].tolist()):
        episodes.append(
            Episode(
                batch["obs"][k, : length + 1, b].numpy(),
                batch["actions"][k, :length, b].numpy(),
                batch["rewards"][k, :length, b].numpy(),
                bool(batch["terminated"][k, length - 1, b]),
                None,
            )
        )
    return episodes


@pytest.mark.parametrize(
    "core, extra",
    [
        ("asn-sublstm", {}),
        ("asn-sublstm", {"rate_penalty": 1.0, "gate_rate_penalty": 0.5, "huber_delta": 1.0}),
        ("asn-sublstm", {"input_gain": 0.3}),  # the ASN input code
        ("asn-lstm", {"rate_penalty": 1.0}),  # the multiplicative cells of the packed pass
        ("lstm", {"rate_penalty": 1.0}),  # no cells node: the step-by-step loop, packed around it
    ],
)
def test_stacked_update_equals_separate_updates(core, extra):
    """One population step on a batch = the single agent's gradient_step per member on its share."""
    pop = small_population(
        [0, 1, 2], core=core, train_noise=0.0, train_cell_noise=0.0, max_grad_norm=0.5, **extra
    )
    _fill(pop, 60)  # every env row has ended an episode (time-out: 40 steps)
    learning = np.array([True, False, True])  # member 1 sits this update out
    idx = pop.replay.sample(pop._sampling.uniform(pop.hp.batch_episodes))
    batch = pop.replay.gather(idx, torch.as_tensor(learning))
    before = [pop.network.member_state(k) for k in range(3)]
    for _ in range(2):  # the second step exercises the Adam moments
        pop.update_on(idx, learning)
    hp = pop.hp
    for k in range(3):
        net = AdvantageNetwork(3, 4, core, hp.n_hidden, hp.n_cells, input_gain=hp.input_gain)
        net.load_state_dict(before[k])
        if learning[k]:
            opt = torch.optim.Adam(net.parameters(), lr=hp.learning_rate)
            for _ in range(2):
                gradient_step(net, None, opt, _episodes(batch, k), hp, torch.device("cpu"))
        # Adam turns float rounding in a gradient that cancels to ~1e-7 (the single agent's cells
        # run in numpy, the population's in torch) into a parameter difference of up to ~lr / 10
        for name, value in net.state_dict().items():
            torch.testing.assert_close(pop.network.params[name][k].detach(), value, atol=5e-4, rtol=1e-5)
    assert pop.updates.tolist() == [2, 0, 2]


def test_stacked_adam_masks_members():
    params = {"w": torch.ones(2, 3, requires_grad=True)}
    opt = StackedAdam(params, lr=0.1, max_grad_norm=1.0)
    norms = opt.step({"w": torch.tensor([[3.0, 0.0, 4.0], [1.0, 1.0, 1.0]])}, torch.tensor([True, False]))
    torch.testing.assert_close(norms, torch.tensor([5.0, 3.0**0.5]))
    assert torch.equal(params["w"][1], torch.ones(3)) and opt.steps.tolist() == [1.0, 0.0]
    assert not torch.equal(params["w"][0], torch.ones(3))


def test_member_runs_do_not_depend_on_the_others():
    """Same seed -> same episodes, updates and weights, whoever else is in the population."""
    a = small_population([5, 7])
    b = small_population([9, 5, 3])
    a.learn(400, eval_interval=200, eval_episodes=10, stop_at_success=None)
    b.learn(400, eval_interval=200, eval_episodes=10, stop_at_success=None)
    assert a.updates[0] > 0 and a.updates[0] == b.updates[1]
    assert a.replay.n_episodes[0] == b.replay.n_episodes[1]
    assert torch.equal(a.replay.actions[0], b.replay.actions[1])
    torch.testing.assert_close(a.replay.obs[0], b.replay.obs[1], atol=1e-5, rtol=0)
    for name, p in a.network.params.items():
        torch.testing.assert_close(p[0], b.network.params[name][1], atol=1e-5, rtol=1e-5)
    assert [r["success_rate"] for r in a.history[0]] == [r["success_rate"] for r in b.history[1]]
    assert not torch.equal(a.replay.actions[0], a.replay.actions[1])  # seeds do differ


def test_a_member_runs_on_unchanged_when_others_stop():
    """Stopping member 1 mid-run drops its envs and replay; member 0 goes on exactly as beside a
    member that keeps learning."""
    a = small_population([5, 7])
    b = small_population([5, 7])
    for pop in (a, b):
        pop.learn(200, eval_interval=100, eval_episodes=5, stop_at_success=None)
    b.stopped[1] = True
    frozen = b.network.member_state(1)
    for pop in (a, b):
        pop.learn(200, eval_interval=100, eval_episodes=5, stop_at_success=None)
    assert b.envs.env.num_envs == b.hp.n_envs and b.replay.n_members == 1  # member 1 runs nothing
    assert b.timesteps.tolist() == [400, 200] and a.updates[0] == b.updates[0] > 0
    assert torch.equal(a.replay.actions[0], b.replay.actions[0])
    torch.testing.assert_close(a.replay.obs[0], b.replay.obs[0], atol=1e-5, rtol=0)
    for name, p in a.network.params.items():
        torch.testing.assert_close(p[0], b.network.params[name][0], atol=1e-5, rtol=1e-5)
        assert torch.equal(b.network.params[name][1], frozen[name])
    assert [r["success_rate"] for r in a.history[0]] == [r["success_rate"] for r in b.history[0]]
    assert len(b.history[1]) == 2 and b.summary()["timesteps"] == [400, 200]
    stopped, learning = b.member(1), b.member(0)
    assert stopped.num_timesteps == 200 and stopped.train_wall_s == b.history[1][-1]["wall_s"]
    assert learning.train_wall_s == b.train_wall_s > stopped.train_wall_s
    assert all(0.0 <= r["success_rate"] <= 1.0 for r in b.evaluate(5))  # stopped members too
    with pytest.raises(ValueError, match="stopped"):
        b.update_on(b.replay.sample(b._sampling.uniform(4)), np.array([True, True]))


def test_exported_member_acts_like_the_population():
    """Without updates, a member acts exactly as an agent with its weights (greedy, state, resets)."""
    pop = small_population([3, 4, 5])
    agents = [pop.member(k) for k in range(3)]
    gen = torch.Generator().manual_seed(0)
    state = pop.network.initial_state(2)
    agent_states = [None] * 3
    for t in range(6):
        obs = torch.rand(3, 2, 3, generator=gen)
        starts = torch.tensor([[t == 0, t == 3]] * 3)
        q, state = pop.network.step(obs, state, starts)
        for k, agent in enumerate(agents):
            action, agent_states[k] = agent.predict(obs[k].numpy(), agent_states[k], starts[k].numpy())
            assert action.tolist() == q[k].argmax(-1).tolist()
            np.testing.assert_allclose(agent_states[k][1], state[1][k].numpy(), rtol=1e-5, atol=1e-5)


def test_member_export_save_load_and_twin(tmp_path):
    from sublstm.spiking import SpikingPolicy

    pop = small_population([0, 11])
    pop.learn(200, eval_interval=100, eval_episodes=5, stop_at_success=None)
    agent = pop.member(1)
    assert agent.seed == 11 and agent.num_timesteps == 200 and len(agent.history) == 2
    for name, value in agent.network.state_dict().items():
        assert torch.equal(value, pop.network.params[name][1].detach())
    path = tmp_path / "member.pt"
    agent.save(path)
    loaded = AdvantageAgent.load(path)
    obs = np.random.default_rng(0).random((5, 3)).astype(np.float32)
    assert np.array_equal(agent.predict(obs)[0], loaded.predict(obs)[0])
    twin = SpikingPolicy.from_agent(loaded)
    values, _, _ = twin.act(torch.as_tensor(obs))
    assert values.shape == (5, 4)
    with pytest.raises(ValueError, match="member index"):
        pop.member(2)


def test_stopped_members_are_frozen_and_the_stop_rule_records():
    pop = small_population([0, 1])
    pop.stopped[0] = True
    frozen = pop.network.member_state(0)
    pop.learn(300, eval_interval=100, eval_episodes=5, stop_at_success=None)
    assert all(torch.equal(v, pop.network.params[k][0]) for k, v in frozen.items())
    assert pop.timesteps.tolist() == [0, 300] and pop.updates[0] == 0 < pop.updates[1]
    assert pop.history[0] == [] and len(pop.history[1]) == 3

    events = []
    pop = small_population([0, 1])
    pop.learn(
        10_000,
        eval_interval=100,
        eval_episodes=5,
        stop_at_success=0.0,
        stop_patience=2,
        callback=events.append,
    )
    assert pop.stopped.all() and pop.num_timesteps == 200  # every member at "0 %" twice
    assert pop.steps_to(0.0) == [100, 100] and pop.summary(0.0)["reached"] == 2
    assert [e["event"] for e in events].count("stop") == 2
    assert pop.stop_reason == ["success >= 0 in 2 evaluations in a row"] * 2


def test_replay_batches_cut_and_forget():
    replay = MemberReplay(1, 1, 1, capacity_steps=6, max_episodes=4, device=torch.device("cpu"))

    def step(t, done=False, term=False):
        one = torch.ones(1, 1, dtype=torch.bool)
        replay.add(
            torch.full((1, 1, 1), float(t)),
            torch.full((1, 1), t),
            torch.full((1, 1), 0.5 * t),
            one & done,
            one & term,
            torch.full((1, 1, 1), 100.0 + t),
        )

    for t in range(3):  # an episode of 3 steps that terminates
        step(t, done=t == 2, term=True)
    idx = torch.zeros(1, 1, dtype=torch.long)
    on = torch.ones(1, dtype=torch.bool)
    batch = replay.gather(idx, on)
    assert batch["obs"][0, :, 0, 0].tolist() == [0.0, 1.0, 2.0, 102.0]  # final obs after the last step
    assert batch["terminated"][0, :, 0].tolist() == [False, False, True]
    assert batch["continues"][0, :, 0].tolist() == [True, True, False]
    cut = replay.gather(idx, on, max_len=2)  # cut: no termination, bootstrap from the stored obs
    assert cut["obs"][0, :, 0, 0].tolist() == [0.0, 1.0, 2.0]
    assert not cut["terminated"].any() and cut["mask"].all()
    for t in range(3, 7):  # 4 more steps overwrite the first episode's slots (6 per row)
        step(t, done=t == 6)
    assert replay.valid()[0].tolist() == [False, True, False, False]


def test_streams_serve_each_member_its_own_numbers():
    both = MemberStreams([1, 2], "explore")
    alone = MemberStreams([2], "explore")
    for shape in ((3,), (5, 2), (20_000,)):
        assert torch.equal(both.uniform(*shape)[1], alone.uniform(*shape)[0])


def test_streams_go_on_where_they_were_when_members_are_dropped():
    three = MemberStreams([1, 2, 3], "env")
    alone = MemberStreams([3], "env")
    assert torch.equal(three.uniform(7)[2], alone.uniform(7)[0])
    three.keep([2, 0])  # member 3 first, then member 1
    for shape in ((5,), (20_000,)):
        assert torch.equal(three.uniform(*shape)[0], alone.uniform(*shape)[0])
    assert three.n_members == 2


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="unknown hyperparameters"):
        small_population([0], learnig_rate=1e-3)
    with pytest.raises(ValueError, match="unknown core"):
        Population(ENV, 1, core="gru")
    with pytest.raises(ValueError, match="seeds"):
        Population(ENV, 2, seeds=[0])
    with pytest.raises(ValueError, match="non-negative"):
        Population(ENV, 1, seeds=[-1])
    with pytest.raises(ValueError, match="no tensor version"):
        Population("CartPole-v1", 1)
    with pytest.raises(ValueError, match="replay_steps"):
        Population(ENV, 1, replay_steps=100)


def test_target_network_follows_every_interval_updates():
    pop = small_population([0, 1], target_update_interval=2)
    _fill(pop, 60)  # every env row has ended an episode (time-out: 40 steps)
    learning = np.array([True, True])
    idx = pop.replay.sample(pop._sampling.uniform(pop.hp.batch_episodes))
    initial = pop.target_network.member_state(0)
    pop.update_on(idx, learning)
    assert all(torch.equal(v, pop.target_network.params[k][0]) for k, v in initial.items())
    pop.update_on(idx, learning)
    for name, p in pop.network.params.items():
        assert torch.equal(p, pop.target_network.params[name])
    assert pop.member(1).target_network is not None


def test_training_noise_covers_real_steps_only():
    pop = small_population([0, 1], train_noise=0.1, train_cell_noise=0.05)
    lengths = torch.tensor([[300, 1]])  # member 1's batch: episodes of 300 and 1 steps
    noise = pop._training_noise(lengths, np.array([1]))
    assert set(noise) == {"x", "a", "h", "c"} and noise["h"].shape == (1, 301, 2, 8)
    assert (noise["x"][0, :, 0] != 0).all() and (noise["x"][0, :2, 1] != 0).all()
    assert (noise["x"][0, 2:, 1] == 0).all()  # padding after the 1-step episode's final obs
    assert (
        abs(float(noise["a"][0, :, 0].std()) - 0.1) < 0.01
        and abs(float(noise["c"][0, :, 0].std()) - 0.05) < 0.01
    )
    assert (
        small_population([0], train_noise=0.0, train_cell_noise=0.0)._training_noise(lengths, np.array([0]))
        is None
    )


def test_evaluating_some_members_gives_them_what_evaluating_all_does():
    """Only the chosen members run an evaluation; each one's episodes depend on its own seed."""
    everyone = small_population([0, 1, 2]).evaluate(6)
    some = small_population([0, 1, 2]).evaluate(6, members=[2, 1])
    assert some[0] is None and some[1:] == everyone[1:]


def test_replay_batch_pads_shorter_episodes_with_zeros_after_their_final_obs():
    replay = MemberReplay(2, 2, 1, capacity_steps=20, max_episodes=4, device=torch.device("cpu"))
    for t in range(4):  # row 0 ends episodes of 2 and 2 steps, row 1 one of 4 steps (both members)
        done = torch.tensor([[t in (1, 3), t == 3]] * 2)
        step = torch.full((2, 2, 1), float(t + 1))
        replay.add(step, torch.zeros(2, 2, dtype=torch.long), step[..., 0], done, done, step + 100)
    assert replay.n_episodes.tolist() == [3, 3]
    subset = torch.tensor([1])
    batch = replay.gather(torch.tensor([[2, 0]]), torch.ones(1, dtype=torch.bool), None, subset)
    assert batch["lengths"].tolist() == [[4, 2]]
    assert batch["obs"][0, :, 0, 0].tolist() == [1.0, 2.0, 3.0, 4.0, 104.0]
    assert batch["obs"][0, :, 1, 0].tolist() == [1.0, 2.0, 102.0, 0.0, 0.0]
    assert batch["rewards"][0, :, 1].tolist() == [1.0, 2.0, 0.0, 0.0]


@pytest.mark.parametrize("unit", ["episodes", "steps"])
def test_updates_begin_under_the_single_agents_rule(unit):
    """A member starts updating when an AdvantageAgent would: at the first step its replay holds
    max(learning_starts, batch_episodes) episodes by default; with the unit "steps", at the first
    step it has taken learning_starts steps (and holds n_envs episodes)."""
    pop = small_population([0, 1], learning_starts=30, learning_starts_unit=unit)
    starts = {}
    while not pop.started.all():
        before = pop.started.copy(), pop.timesteps.copy(), pop.episodes.copy()
        pop._act_and_store()
        for k in np.flatnonzero(pop.started & ~before[0]):
            starts[k] = (before[1][k], before[2][k], pop.timesteps[k], pop.episodes[k])
    assert sorted(starts) == [0, 1]
    for steps_before, episodes_before, steps, episodes in starts.values():
        if unit == "episodes":  # random walks time out after 40 steps: 30 episodes take > 200 steps
            assert episodes_before < 30 <= episodes and steps > 200
        else:
            assert not (steps_before >= 30 and episodes_before >= 4)
            assert steps >= 30 and 4 <= episodes < 30


def test_learning_starts_unit_is_checked():
    with pytest.raises(ValueError, match="learning_starts_unit.*'minutes'"):
        small_population([0], learning_starts_unit="minutes")


def test_rate_penalty_weight_per_member_reaches_the_loss():
    """With rate_penalty_after, each member's update weighs the rate penalty by its own schedule
    (0 before its first evaluation at the target, then a linear ramp), as the single agent does."""
    from sublstm.agents.settings import penalised, penalty_scale

    hp_extra = dict(rate_penalty=1.0, rate_penalty_after=0.9, rate_penalty_ramp=100)
    pop = small_population([0, 1, 2], core="asn-lstm", train_noise=0.0, train_cell_noise=0.0, **hp_extra)
    _fill(pop, 60)
    t = int(pop.timesteps[0])
    pop.history[0] = [{"event": "eval", "timesteps": t - 50, "success_rate": 0.5}]  # never at 0.9
    pop.history[1] = [{"event": "eval", "timesteps": t - 25, "success_rate": 0.95}]  # a quarter up
    pop.history[2] = [{"event": "eval", "timesteps": t - 400, "success_rate": 1.0}]  # full weight
    weights = [penalty_scale(pop.hp, pop.history[k], t) for k in range(3)]
    assert weights == [0.0, 0.25, 1.0]
    learning = np.ones(3, dtype=bool)
    idx = pop.replay.sample(pop._sampling.uniform(pop.hp.batch_episodes))
    batch = pop.replay.gather(idx, torch.as_tensor(learning))
    before = [pop.network.member_state(k) for k in range(3)]
    pop.update_on(idx, learning)
    hp = pop.hp
    for k in range(3):
        net = AdvantageNetwork(3, 4, core="asn-lstm", n_hidden=hp.n_hidden, n_cells=hp.n_cells)
        net.load_state_dict(before[k])
        opt = torch.optim.Adam(net.parameters(), lr=hp.learning_rate)
        gradient_step(net, None, opt, _episodes(batch, k), penalised(hp, weights[k]), torch.device("cpu"))
        for name, value in net.state_dict().items():
            torch.testing.assert_close(pop.network.params[name][k].detach(), value, atol=5e-4, rtol=1e-5)
    # and the schedule matters: member 0 at full weight would have moved elsewhere
    net = AdvantageNetwork(3, 4, core="asn-lstm", n_hidden=hp.n_hidden, n_cells=hp.n_cells)
    net.load_state_dict(before[0])
    opt = torch.optim.Adam(net.parameters(), lr=hp.learning_rate)
    gradient_step(net, None, opt, _episodes(batch, 0), hp, torch.device("cpu"))
    moved = [(pop.network.params[n][0].detach() - v).abs().max() for n, v in net.state_dict().items()]
    assert max(moved) > 1e-3
