"""Section ``tensor-envs``: env steps per second of each task's tensor-native env
(``sublstm.envs.tensor``) at several batch sizes, beside gymnasium's sync vector env of the same
id and batch, random actions drawn in advance (:func:`sublstm.envs.tensor.compare_rates`)."""

from __future__ import annotations

from dataclasses import dataclass

from .bench import BenchContext, Section, check_count, check_positive
from .reporting import markdown_table


@dataclass(frozen=True)
class TensorEnvSettings:
    """Batch sizes; ``steps`` batched tensor-env steps and ``gym_env_steps`` env steps of the vector
    env (at least 20 vector steps) per timed run; median of ``repeats`` runs; the tensor env's device."""

    batches: tuple[int, ...] = (1, 64, 1024)
    steps: int = 1000
    gym_env_steps: int = 20_000
    repeats: int = 3
    device: str = "cpu"

    def validate(self) -> None:
        if not self.batches:
            raise ValueError("batches must name at least one batch size")
        for batch in self.batches:
            check_count("batches", batch, 1)
        check_positive(self, "steps", "gym_env_steps", "repeats")
        if self.device != "cpu" and not self.device.startswith("cuda"):
            raise ValueError(f"device must be 'cpu' or 'cuda[:N]', got {self.device!r}")


def measure(s: TensorEnvSettings) -> dict[str, list[dict[str, float]]]:
    """{env id: compare_rates rows ({"batch", "tensor", "gym_sync", "speedup"})} for every task."""
    from sublstm.envs import ENV_IDS
    from sublstm.envs.tensor import compare_rates

    results = {}
    for env_id in ENV_IDS:
        results[env_id] = compare_rates(
            env_id, s.batches, s.steps, s.gym_env_steps, s.repeats, device=s.device
        )
        print(f"  measured {env_id}", flush=True)
    return results


def table(results: dict[str, list[dict[str, float]]]) -> str:
    rows = [
        [
            f"`{env_id}`",
            f"{row['batch']:,}",
            f"{row['tensor']:,.0f}",
            f"{row['gym_sync']:,.0f}",
            f"{row['speedup']:,.1f}×",
        ]
        for env_id, env_rows in results.items()
        for row in env_rows
    ]
    header = ["env id", "batch", "tensor env", "gymnasium sync vector", "tensor / gymnasium"]
    return markdown_table(header, rows)


def run(ctx: BenchContext, s: TensorEnvSettings) -> None:
    text = table(measure(s))
    print(text)
    body = f"""
Environment steps per second (all episodes of a batch together) of each task's tensor-native env
(`sublstm.envs.tensor.make_tensor_env`, device {s.device}, action checks off as in training)
beside gymnasium's sync vector env of the same id and batch size, random actions drawn in advance,
median of {s.repeats} runs (tensor env: {s.steps:,} batched steps after 10 untimed ones; vector env:
{s.gym_env_steps:,} env steps, at least 20 vector steps). Default arguments of each id (T-maze:
N = 10). The machine was shared with other developers' experiments while this ran (see the load
average in the machine line), so the rates are lower bounds and the ratios the robust part.

{text}
"""
    ctx.write(SECTION, body)


SECTION = Section(
    "tensor-envs",
    "Tensor-native environment throughput",
    run,
    TensorEnvSettings(),
    TensorEnvSettings(batches=(1, 16), steps=20, gym_env_steps=200, repeats=1),
    order=11,
)
