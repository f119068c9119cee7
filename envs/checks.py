"""Argument checks shared by the envs and by everything that makes an env from a name.

:func:`check_int` is the one integer-argument check of the env constructors (bool refused, numpy
integers accepted, documented minimum and maximum). :func:`check_make_args` checks an env id and
its keyword arguments before ``gymnasium.make`` runs: an id that is not registered, a keyword the
env does not take, or an id with a module part (``"pkg.mod:Env-v0"``, which makes gymnasium
import ``pkg.mod`` and so run its code) is a ValueError naming it, with a near match.
"""

from __future__ import annotations

import difflib
import importlib
import inspect
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
from gymnasium.envs.registration import EnvSpec, load_env_creator, registry

# keywords that gymnasium.make itself takes (besides the env's own); they may appear in env kwargs
MAKE_KEYWORDS = ("max_episode_steps", "disable_env_checker", "autoreset", "apply_api_compatibility")


def check_int(name: str, value: Any, minimum: int, maximum: int | None = None) -> int:
    """``value`` as an int; ValueError naming ``name`` and the allowed range otherwise.

    bool is refused (an int subclass, but True as a length or an action is almost certainly a
    mistake); numpy integers are accepted.
    """
    allowed = f"an integer >= {minimum}" + ("" if maximum is None else f" and <= {maximum:_}")
    if isinstance(value, bool | np.bool_) or not isinstance(value, int | np.integer):
        raise ValueError(f"{name} must be {allowed}, got {value!r}")
    if value < minimum or (maximum is not None and value > maximum):
        raise ValueError(f"{name} must be {allowed}, got {value!r}")
    return int(value)


def near_match_hint(name: str, choices: Iterable[str]) -> str:
    """' (did you mean 'x'?)' for the closest of ``choices``, or '' when none is close."""
    close = difflib.get_close_matches(name, list(choices), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def check_env_id(env_id: Any, allow_module: bool = False) -> EnvSpec:
    """The registered spec of ``env_id``; ValueError for a non-string, unknown or module-part id.

    With ``allow_module`` an id ``"module:Env-v0"`` imports ``module`` (as ``gymnasium.make``
    would) and is then looked up as ``Env-v0``.
    """
    if not isinstance(env_id, str) or not env_id:
        raise ValueError(f"env id must be a non-empty string, got {env_id!r}")
    name = env_id
    if ":" in env_id:
        module, name = env_id.split(":", 1)
        if not allow_module:
            raise ValueError(
                f"env id {env_id!r} names a module to import ({module!r}); only a registered id "
                f"such as {name!r} is allowed here (importing a module runs its code)"
            )
        try:
            importlib.import_module(module)
        except ImportError as exc:
            raise ValueError(f"env id {env_id!r}: cannot import module {module!r}: {exc}") from exc
    if name not in registry:
        ours = sorted(k for k in registry if k.startswith("sublstm/"))
        raise ValueError(
            f"unknown env id {name!r}{near_match_hint(name, registry)}; the sublstm envs are {ours}"
        )
    return registry[name]


def accepted_kwargs(spec: EnvSpec) -> set[str] | None:
    """The keyword names ``gymnasium.make(spec.id, **kwargs)`` accepts, or None for "any".

    Read from the signature of the entry point (its ``__init__`` for a class); an entry point
    taking ``**kwargs`` accepts anything; one whose signature cannot be read accepts the keys of
    the spec's own kwargs.
    """
    creator = spec.entry_point
    try:
        if isinstance(creator, str):
            creator = load_env_creator(creator)  # registered ids only: imports installed code
        signature = inspect.signature(creator)
    except (TypeError, ValueError, ImportError, AttributeError):
        return set(spec.kwargs) | set(MAKE_KEYWORDS)
    params = signature.parameters.values()
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params):
        return None
    named = {
        p.name
        for p in params
        if p.kind in (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    }
    return named | set(spec.kwargs) | set(MAKE_KEYWORDS)


def check_make_args(
    env_id: Any, env_kwargs: Mapping[str, Any] | None = None, allow_module: bool = False
) -> None:
    """Refuse what ``gymnasium.make(env_id, **env_kwargs)`` would fail on, or import, before it runs.

    ValueError (naming the id or keyword, with a near match) for an id that is not registered,
    an id with a module part unless ``allow_module``, kwargs that are not a mapping of names, and
    a keyword the env's constructor does not take. Values are the constructor's to check.
    """
    spec = check_env_id(env_id, allow_module=allow_module)
    if env_kwargs is None:
        return
    if not isinstance(env_kwargs, Mapping):
        raise ValueError(f"env kwargs must be a mapping of names to values, got {env_kwargs!r}")
    bad_keys = [k for k in env_kwargs if not isinstance(k, str)]
    if bad_keys:
        raise ValueError(f"env kwargs names must be strings, got {bad_keys[0]!r}")
    accepted = accepted_kwargs(spec)
    if accepted is None:
        return
    for key in env_kwargs:
        if key not in accepted:
            raise ValueError(
                f"env {spec.id!r} takes no argument {key!r}{near_match_hint(key, accepted)}; "
                f"it takes {sorted(accepted - set(MAKE_KEYWORDS))}"
            )
