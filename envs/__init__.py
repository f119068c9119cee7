"""Working-memory tasks as gymnasium environments.

Importing this package registers the ids below (once; re-imports are harmless), so
``gymnasium.make("sublstm.envs:sublstm/TMaze-v0")`` works in a fresh interpreter.

| id | class |
| --- | --- |
| ``sublstm/TMaze-v0`` | :class:`TMazeEnv` (noise 0 by default) |
| ``sublstm/NoisyTMaze-v0`` | :class:`TMazeEnv` with ``noise=1.0`` |
| ``sublstm/SequencePrediction-v0`` | :class:`SequencePredictionEnv` (``noisy=True`` for 2b) |
| ``sublstm/SaccadeAntisaccade-v0`` | :class:`SaccadeAntisaccadeEnv` |

:func:`sequence_batch` generates the sequence task as supervised batches. :func:`check_make_args`
checks an env id and its kwargs before ``gymnasium.make`` (registered ids only, no module part,
known keywords; near matches in the message).

Every env ends its episodes itself (the T-maze truncates at ``max_steps``, the others have a
fixed maximum length), so no gymnasium TimeLimit is added at registration.
"""

from gymnasium.envs.registration import register, registry

from .checks import check_make_args
from .saccade import FIXATE, LEFT, RIGHT, SaccadeAntisaccadeEnv
from .sequence import SequencePredictionEnv, sequence_batch
from .tmaze import EAST, NORTH, SOUTH, WEST, TMazeEnv

__all__ = [
    "ENV_IDS",
    "check_make_args",
    "TMazeEnv",
    "NORTH",
    "EAST",
    "SOUTH",
    "WEST",
    "SequencePredictionEnv",
    "sequence_batch",
    "SaccadeAntisaccadeEnv",
    "FIXATE",
    "LEFT",
    "RIGHT",
]

_SPECS = {
    "sublstm/TMaze-v0": ("sublstm.envs.tmaze:TMazeEnv", {}),
    "sublstm/NoisyTMaze-v0": ("sublstm.envs.tmaze:TMazeEnv", {"noise": 1.0}),
    "sublstm/SequencePrediction-v0": ("sublstm.envs.sequence:SequencePredictionEnv", {}),
    "sublstm/SaccadeAntisaccade-v0": ("sublstm.envs.saccade:SaccadeAntisaccadeEnv", {}),
}
ENV_IDS = tuple(_SPECS)

for _env_id, (_entry_point, _kwargs) in _SPECS.items():
    if _env_id not in registry:
        register(id=_env_id, entry_point=_entry_point, kwargs=_kwargs)
