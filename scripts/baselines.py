"""Train the peers a user would otherwise reach for, on any sublstm env id, with our seeds and budget.

    python scripts/baselines.py --algo recurrent-ppo --env sublstm/NoisyTMaze-v0 \\
        --env-kwargs corridor_length=10 --seed 0 --total-timesteps 200000 --out runs/rppo \\
        --eval-interval 5000 --stop-at-success 0.95 --wandb offline

Algorithms (``--algo``):

- ``recurrent-ppo``: sb3-contrib RecurrentPPO with "MlpLstmPolicy", the standard recurrent peer;
- ``ppo``: SB3 PPO with a memoryless MLP. The floor: at the T-maze junction it sees [0, 1, 0]
  whatever the sign was, so it cannot beat chance on the final turn;
- ``ppo-framestack``: SB3 PPO on the last ``--n-stack`` observations (VecFrameStack). It can solve a
  T-maze only if the window reaches back to the sign (n_stack > corridor_length).

Output in ``--out`` (same layout as scripts/train.py): ``summary.json`` (success_rate over
``--eval-episodes`` deterministic episodes after training, timesteps, wall_s, timesteps_to_95, ...),
``learning_curve.csv`` (timesteps, success_rate, mean_return, wall_s at every evaluation) and
``learning_curve.png``.

Hyperparameters (``default_hyperparameters``) are shared by the three algorithms where they mean the
same thing, so that only the memory mechanism differs; why each value was chosen is said beside it.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))  # scripts/ is no package: find bench_lib
from bench_lib import first_reaching, machine_info, plot_curve, write_curve  # noqa: E402
from cli_args import parse_key_values  # noqa: E402

ALGOS = ("recurrent-ppo", "ppo", "ppo-framestack")
WANDB_MODES = ("offline", "online", "disabled")
SUCCESS_FOR_TIMESTEPS_TO = 0.95  # the summary's timesteps_to_95 uses this threshold, always


def default_hyperparameters(algo: str) -> dict[str, Any]:
    """Our choice for small working-memory tasks (T-maze, corridor 10-100); see the module docstring.

    Starting point: the RL-Zoo settings for RecurrentPPO on partially observed classic control
    (e.g. CartPoleNoVel: small LSTM, short rollouts, many epochs), adapted to sparse end-of-episode
    rewards, then tuned lightly on NoisyTMaze corridor 10 (docs/benchmarks.md says how).
    """
    if algo not in ALGOS:
        raise ValueError(f"algo must be one of {ALGOS}, got {algo!r}")
    common: dict[str, Any] = {
        "n_envs": 16,  # the same vector size as our agent's default, for a like-for-like budget
        "n_steps": 128,  # 2048 steps per update; longer than an optimal episode up to corridor 100,
        # so RecurrentPPO's truncated BPTT (cut at rollout boundaries) can span sign -> junction
        "batch_size": 512,
        "n_epochs": 10,
        "learning_rate": 1e-3,  # small nets on a 3-d input tolerate (and profit from) a large step
        "gamma": 0.99,
        "gae_lambda": 0.95,
        "clip_range": 0.2,
        "ent_coef": 0.01,  # keeps both turns at the junction in play until the memory is learnt
        "vf_coef": 0.5,
        "max_grad_norm": 0.5,
    }
    if algo == "recurrent-ppo":
        common["policy_kwargs"] = {
            "lstm_hidden_size": 32,  # one bit to hold; 32 cells leave room without slowing learning
            "n_lstm_layers": 1,
            "enable_critic_lstm": True,  # the value of the junction state depends on the memory too
            "net_arch": {"pi": [32], "vf": [32]},
            "ortho_init": True,
        }
    else:
        common["policy_kwargs"] = {"net_arch": {"pi": [64, 64], "vf": [64, 64]}}
    if algo == "ppo-framestack":
        common["n_stack"] = 4  # SB3's Atari default; the bench passes a window that fits the corridor
    return common


# -- argument parsing ---------------------------------------------------------------------------------
def parse_kwargs(items: list[str] | None, name: str = "--env-kwargs") -> dict[str, Any]:
    """key=value items as a dict of Python literals (ValueError naming ``name`` on a bad item)."""
    return parse_key_values(items, name)


def _positive_int(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def check_config(cfg: dict[str, Any]) -> None:
    """Raise ValueError naming the first bad argument in a run configuration."""
    if cfg["algo"] not in ALGOS:
        raise ValueError(f"algo must be one of {ALGOS}, got {cfg['algo']!r}")
    if cfg["wandb"] not in WANDB_MODES:
        raise ValueError(f"wandb must be one of {WANDB_MODES}, got {cfg['wandb']!r}")
    for name in ("total_timesteps", "eval_interval", "eval_episodes", "threads"):
        _positive_int(name, cfg[name])
    if isinstance(cfg["seed"], bool) or not isinstance(cfg["seed"], int) or cfg["seed"] < 0:
        raise ValueError(f"seed must be a non-negative integer, got {cfg['seed']!r}")
    stop = cfg["stop_at_success"]
    if stop is not None and not (isinstance(stop, float | int) and math.isfinite(stop) and 0.0 < stop <= 1.0):
        raise ValueError(f"stop_at_success must be in (0, 1] or None, got {stop!r}")
    hp = cfg["hyperparameters"]
    for name in ("n_envs", "n_steps", "batch_size", "n_epochs") + (("n_stack",) if "n_stack" in hp else ()):
        _positive_int(name, hp[name])
    if hp["batch_size"] > hp["n_envs"] * hp["n_steps"]:
        raise ValueError(
            f"batch_size ({hp['batch_size']}) must not exceed n_envs * n_steps "
            f"({hp['n_envs'] * hp['n_steps']})"
        )


# -- environments and models --------------------------------------------------------------------------
def make_venv(env_id: str, env_kwargs: dict, n_envs: int, seed: int, n_stack: int | None = None):
    """A DummyVecEnv of ``n_envs`` copies (cheap envs: processes would cost more than they save)."""
    import gymnasium as gym
    import sublstm.envs  # noqa: F401  (registers the sublstm/... ids)
    from stable_baselines3.common.env_util import make_vec_env
    from stable_baselines3.common.vec_env import DummyVecEnv, VecFrameStack

    if env_id not in gym.registry:
        raise ValueError(f"env {env_id!r} is not registered; known sublstm ids: {sublstm.envs.ENV_IDS}")
    try:
        gym.make(env_id, **env_kwargs).close()  # fail here, with the env's own message, on bad kwargs
    except TypeError as exc:
        raise ValueError(f"env_kwargs {env_kwargs!r} do not fit {env_id!r}: {exc}") from exc
    # make_vec_env wraps each env in Monitor, which feeds SB3's episode statistics to the logger
    venv = make_vec_env(env_id, n_envs=n_envs, seed=seed, env_kwargs=env_kwargs, vec_env_cls=DummyVecEnv)
    return VecFrameStack(venv, n_stack) if n_stack else venv


def make_model(algo: str, venv, hp: dict[str, Any], seed: int, device: str = "cpu"):
    """Build the SB3 / sb3-contrib model for ``algo`` on ``venv`` with hyperparameters ``hp``."""
    algo_kwargs = {k: v for k, v in hp.items() if k not in ("n_envs", "n_stack")}
    if algo == "recurrent-ppo":
        from sb3_contrib import RecurrentPPO

        return RecurrentPPO("MlpLstmPolicy", venv, seed=seed, device=device, verbose=0, **algo_kwargs)
    from stable_baselines3 import PPO

    return PPO("MlpPolicy", venv, seed=seed, device=device, verbose=0, **algo_kwargs)


# -- evaluation ---------------------------------------------------------------------------------------
def evaluate(model, venv, n_episodes: int, seed: int) -> dict[str, float]:
    """Deterministic success rate and mean return over exactly ``n_episodes`` episodes.

    Batched over ``venv``; each env owns a fixed quota of episodes (so short episodes are not
    over-represented), and the recurrent state is carried and reset through ``episode_start``
    exactly as SB3's evaluate_policy does. Success is the env's ``info["success"]`` at episode end.
    """
    n = venv.num_envs
    quota = np.array([(n_episodes + i) // n for i in range(n)])
    done_count = np.zeros(n, dtype=int)
    returns, successes, lengths = [], [], []
    running = np.zeros(n)
    steps = np.zeros(n, dtype=int)
    venv.seed(seed)
    obs = venv.reset()
    state, episode_start = None, np.ones(n, dtype=bool)
    while (done_count < quota).any():
        actions, state = model.predict(obs, state=state, episode_start=episode_start, deterministic=True)
        obs, rewards, dones, infos = venv.step(actions)
        running += rewards
        steps += 1
        for i in np.flatnonzero(dones):
            if done_count[i] < quota[i]:
                if "success" not in infos[i]:
                    raise ValueError("the env's final info has no 'success' key; cannot score it")
                successes.append(bool(infos[i]["success"]))
                returns.append(float(running[i]))
                lengths.append(int(steps[i]))
                done_count[i] += 1
            running[i], steps[i] = 0.0, 0
        episode_start = dones
    return {
        "success_rate": float(np.mean(successes)),
        "mean_return": float(np.mean(returns)),
        "mean_length": float(np.mean(lengths)),
    }


def _eval_callback(model_eval, interval: int, stop_at: float | None, t0: float, on_eval):
    """An SB3 callback evaluating every ``interval`` env steps; returns False to stop at success."""
    from stable_baselines3.common.callbacks import BaseCallback

    class PeriodicEval(BaseCallback):
        def __init__(self) -> None:
            super().__init__()
            self.next_eval = interval
            self.rows: list[dict[str, float]] = []

        def _on_step(self) -> bool:
            if self.num_timesteps < self.next_eval:
                return True
            while self.next_eval <= self.num_timesteps:
                self.next_eval += interval
            row = {"timesteps": self.num_timesteps, **model_eval(), "wall_s": time.perf_counter() - t0}
            self.rows.append(row)
            on_eval(row)
            return stop_at is None or row["success_rate"] < stop_at

    return PeriodicEval()


# -- wandb --------------------------------------------------------------------------------------------
def _wandb_start(mode: str, out: Path, config: dict):
    """Start a wandb run (offline by default: no network) and route SB3's logger to it."""
    import wandb

    return wandb.init(
        project="sublstm",
        group="baselines",
        name=f"{config['algo']}-{config['env']}-s{config['seed']}".replace("/", "_"),
        config=config,
        mode=mode,
        dir=str(out),
        reinit="finish_previous",
    )


def _wandb_writer():
    """An SB3 logger output that forwards each dump to wandb.log (numbers only)."""
    import wandb
    from stable_baselines3.common.logger import KVWriter

    class WandbWriter(KVWriter):
        def write(self, key_values, key_excluded, step=0) -> None:
            data = {k: v for k, v in key_values.items() if isinstance(v, int | float | np.number)}
            if data:
                wandb.log({**data, "timesteps": step})

    return WandbWriter()


# -- a whole run --------------------------------------------------------------------------------------
def run(cfg: dict[str, Any]) -> dict[str, Any]:
    """Train one peer as configured, write summary.json / learning_curve.{csv,png}, return the summary."""
    import torch
    from stable_baselines3.common.logger import Logger

    check_config(cfg)
    torch.set_num_threads(cfg["threads"])
    hp = cfg["hyperparameters"]
    out = Path(cfg["out"])
    out.mkdir(parents=True, exist_ok=True)
    n_stack = hp.get("n_stack") if cfg["algo"] == "ppo-framestack" else None

    venv = make_venv(cfg["env"], cfg["env_kwargs"], hp["n_envs"], cfg["seed"], n_stack)
    n_eval_envs = min(cfg["eval_episodes"], 50)
    eval_venv = make_venv(cfg["env"], cfg["env_kwargs"], n_eval_envs, cfg["seed"] + 10_000, n_stack)
    model = make_model(cfg["algo"], venv, hp, cfg["seed"], cfg["device"])
    eval_seed = cfg["seed"] + 20_000  # the same evaluation episodes at every evaluation of a run

    run_ = _wandb_start(cfg["wandb"], out, cfg)
    import wandb
    from wandb.integration.sb3 import WandbCallback

    model.set_logger(Logger(folder=None, output_formats=[_wandb_writer()]))

    def model_eval() -> dict[str, float]:
        return evaluate(model, eval_venv, cfg["eval_episodes"], eval_seed)

    def on_eval(row: dict) -> None:
        wandb.log({f"eval/{k}": v for k, v in row.items()})
        if cfg["verbose"]:
            print(
                f"[{cfg['algo']} seed {cfg['seed']}] t={row['timesteps']:>8d} "
                f"success={row['success_rate']:.2f} return={row['mean_return']:.2f}",
                flush=True,
            )

    t0 = time.perf_counter()
    periodic = _eval_callback(model_eval, cfg["eval_interval"], cfg["stop_at_success"], t0, on_eval)
    interrupted = False
    try:
        model.learn(total_timesteps=cfg["total_timesteps"], callback=[periodic, WandbCallback(log=None)])
    except KeyboardInterrupt:  # Ctrl-C, or scripts/bench.py at its wall-clock limit: keep what was learnt
        interrupted = True
        print(f"interrupted at {model.num_timesteps} timesteps; writing the summary", flush=True)
    train_s = time.perf_counter() - t0
    final = evaluate(model, eval_venv, cfg["eval_episodes"], cfg["seed"] + 30_000)  # fresh episodes
    total_s = time.perf_counter() - t0

    rows = periodic.rows
    summary = {
        "algo": cfg["algo"],
        "env": cfg["env"],
        "env_kwargs": cfg["env_kwargs"],
        "seed": cfg["seed"],
        "success_rate": final["success_rate"],
        "mean_return": final["mean_return"],
        "mean_length": final["mean_length"],
        "eval_episodes": cfg["eval_episodes"],
        "timesteps": int(model.num_timesteps),
        "wall_s": train_s,  # as in scripts/train.py: training incl. periodic evaluations, not the final one
        "total_wall_s": total_s,
        "steps_per_s": model.num_timesteps / train_s,
        "timesteps_to_95": first_reaching(rows, SUCCESS_FOR_TIMESTEPS_TO),
        "wall_s_to_95": first_reaching(rows, SUCCESS_FOR_TIMESTEPS_TO, key="wall_s"),
        "stopped_early": not interrupted
        and cfg["stop_at_success"] is not None
        and model.num_timesteps < cfg["total_timesteps"],
        "interrupted": interrupted,
        "eval_interval": cfg["eval_interval"],
        "stop_at_success": cfg["stop_at_success"],
        "total_timesteps": cfg["total_timesteps"],
        "hyperparameters": hp,
        "machine": machine_info(),
    }
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    write_curve(out / "learning_curve.csv", rows)
    if rows:
        title = f"{cfg['algo']} on {cfg['env']} {cfg['env_kwargs']} seed {cfg['seed']}"
        plot_curve(out / "learning_curve.png", rows, title)
    wandb.log({"final/success_rate": final["success_rate"], "timesteps": summary["timesteps"]})
    run_.finish()
    venv.close()
    eval_venv.close()
    return summary


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--algo", required=True, choices=ALGOS)
    p.add_argument("--env", default="sublstm/NoisyTMaze-v0", help="a registered env id (default %(default)s)")
    p.add_argument("--env-kwargs", nargs="*", default=[], metavar="KEY=VALUE", help="e.g. corridor_length=10")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--total-timesteps", type=int, default=200_000)
    p.add_argument("--out", required=True, help="output folder (created)")
    p.add_argument("--eval-interval", type=int, default=5_000, help="env steps between evaluations")
    p.add_argument("--eval-episodes", type=int, default=100, help="deterministic episodes per evaluation")
    p.add_argument("--stop-at-success", type=float, default=None, help="stop once an evaluation reaches this")
    p.add_argument("--n-stack", type=int, default=None, help="frames stacked (ppo-framestack only)")
    p.add_argument(
        "--hp",
        nargs="*",
        default=[],
        metavar="KEY=VALUE",
        help="override a hyperparameter: learning_rate=3e-4",
    )
    p.add_argument(
        "--wandb", default="offline", choices=WANDB_MODES, help="offline (default) needs no network"
    )
    p.add_argument("--device", default="cpu")
    p.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    p.add_argument("--quiet", action="store_true", help="no line per evaluation")
    return p


def config_from_args(args: argparse.Namespace) -> dict[str, Any]:
    """Turn parsed arguments into a run configuration (raises ValueError on bad combinations)."""
    hp = default_hyperparameters(args.algo)
    overrides = parse_kwargs(args.hp, "--hp")
    unknown = sorted(set(overrides) - set(hp) - {"policy_kwargs"})
    if unknown:
        raise ValueError(f"--hp: unknown hyperparameter(s) {unknown}; known: {sorted(hp)}")
    hp.update(overrides)
    if args.n_stack is not None:
        if args.algo != "ppo-framestack":
            raise ValueError(f"--n-stack only applies to --algo ppo-framestack, not {args.algo!r}")
        hp["n_stack"] = args.n_stack
    return {
        "algo": args.algo,
        "env": args.env,
        "env_kwargs": parse_kwargs(args.env_kwargs),
        "seed": args.seed,
        "total_timesteps": args.total_timesteps,
        "out": args.out,
        "eval_interval": args.eval_interval,
        "eval_episodes": args.eval_episodes,
        "stop_at_success": args.stop_at_success,
        "wandb": args.wandb,
        "device": args.device,
        "threads": args.threads,
        "verbose": not args.quiet,
        "hyperparameters": hp,
    }


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        cfg = config_from_args(args)
        check_config(cfg)
    except ValueError as exc:
        parser.error(str(exc))  # exits with status 2 and the message
    summary = run(cfg)
    keys = ("success_rate", "timesteps", "timesteps_to_95", "wall_s")
    print(json.dumps({k: summary[k] for k in keys}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
