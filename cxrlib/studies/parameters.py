"""Study parameters: profiles, and turning what a user typed (a notebook cell, ``papermill -p/-y``, a
keyword argument) into a typed ``Settings`` dataclass, in one place for every study.

``papermill -p backbones densenet121,vgg19`` passes a string; ``-p backbones "['densenet121']"`` a
string holding a Python list; ``-y "backbones: [densenet121]"`` a list. All three mean the same
tuple, and a value that cannot be read stops the run at once with a message naming the parameter.
"""

from __future__ import annotations

import ast
import dataclasses
import difflib
import json
import types
import typing
from collections.abc import Mapping
from enum import Enum
from typing import Any, TypeVar

__all__ = ["Profile", "PRESET", "resolve_settings", "coerce_parameter", "ParameterError", "notebook_parameters"]

T = TypeVar("T")

#: An override equal to this keeps the profile's value. ``None`` does too, for a setting that cannot be
#: None; for one that can (``prevalence=None``: the generator's per-class defaults), None is a value.
PRESET = "preset"


class Profile(str, Enum):
    SMOKE = "smoke"  #: CI: tiny images, few epochs, minutes on a 2-core CPU in all
    DEFAULT = "default"  #: a CPU build of the book
    FULL = "full"  #: paper scale, for a GPU box


class ParameterError(ValueError):
    """A study parameter that does not exist or cannot be read as its type."""


def _allows_none(hint: Any) -> bool:
    return hint is type(None) or (
        typing.get_origin(hint) in (typing.Union, types.UnionType) and type(None) in typing.get_args(hint)
    )


def _parse_text_list(name: str, text: str) -> list:
    text = text.strip()
    if text[:1] in "[(":
        for parse in (json.loads, ast.literal_eval):
            try:
                value = parse(text)
            except (ValueError, SyntaxError):
                continue
            if isinstance(value, (list, tuple)):
                return list(value)
        raise ParameterError(
            f"parameter {name!r}: cannot read {text!r} as a list; write it as a YAML/JSON list "
            "(papermill -y), a Python list in quotes, or comma-separated values: a,b,c"
        )
    return [part.strip() for part in text.split(",") if part.strip()]


def coerce_parameter(name: str, value: Any, hint: Any) -> Any:
    """``value`` as the type ``hint`` of setting ``name`` (``int``, ``float``, ``bool``, ``str``,
    ``tuple[X, ...]``, ``X | None``, ``Mapping``). Raises :class:`ParameterError` naming the parameter,
    its type and the value when it cannot be read."""
    if value is None and _allows_none(hint):
        return None
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        errors = []
        for option in (a for a in args if a is not type(None)):
            try:
                return coerce_parameter(name, value, option)
            except ParameterError as err:
                errors.append(str(err))
        raise ParameterError(f"parameter {name!r}: {value!r} is none of {_describe(hint)}")
    try:
        if hint is bool:
            if isinstance(value, bool):
                return value
            if isinstance(value, str) and value.strip().lower() in ("true", "false", "1", "0", "yes", "no"):
                return value.strip().lower() in ("true", "1", "yes")
            raise TypeError
        if hint is int:
            if isinstance(value, bool):
                raise TypeError
            if isinstance(value, float) and value.is_integer():
                return int(value)
            return int(value) if isinstance(value, (int, str)) else _fail()
        if hint is float:
            if isinstance(value, bool):
                raise TypeError
            return float(value) if isinstance(value, (int, float, str)) else _fail()
        if hint is str:
            if not isinstance(value, str):
                raise TypeError
            return value
        if origin is tuple:
            items = _parse_text_list(name, value) if isinstance(value, str) else value
            if not isinstance(items, (list, tuple)):
                raise TypeError
            item_type = args[0] if args else Any
            return tuple(coerce_parameter(name, v, item_type) if item_type is not Any else v for v in items)
        if origin is not None and issubclass(origin, Mapping) or hint is Mapping:
            if isinstance(value, str):
                value = json.loads(value)
            if not isinstance(value, Mapping):
                raise TypeError
            return dict(value)
    except ParameterError:
        raise
    except (TypeError, ValueError):
        raise ParameterError(f"parameter {name!r} must be {_describe(hint)}, got {value!r}") from None
    return value


def _fail():
    raise TypeError


def _describe(hint: Any) -> str:
    return (
        getattr(hint, "__name__", None) if typing.get_origin(hint) is None and hasattr(hint, "__name__") else str(hint)
    )


def resolve_settings(cls: type[T], presets: dict[str, dict[str, Any]], profile: str, **overrides: Any) -> T:
    """Build a settings dataclass from a profile's preset, then apply the overrides, each read as its
    field's type by :func:`coerce_parameter`.

    An override of :data:`PRESET` keeps the profile's value, and so does ``None`` for a field that
    cannot be None (the notebooks' parameter cells use None for "the profile's value"); for a field
    that can be None, None is applied. Raises :class:`ParameterError` (a ``ValueError``) for an
    unknown profile, a setting the study does not have, or a value that cannot be read.
    """
    try:
        profile = Profile(profile).value
    except ValueError:
        raise ParameterError(f"unknown profile {profile!r}; use one of {[p.value for p in Profile]}") from None
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    unknown = sorted(set(overrides) - set(names))
    if unknown:
        raise ParameterError(f"{cls.__name__} has no setting(s) {unknown}; settings are {sorted(names)}")
    values = dict(presets.get(profile, {}))
    for name, value in overrides.items():
        if (isinstance(value, str) and value == PRESET) or (value is None and not _allows_none(hints[name])):
            continue
        values[name] = coerce_parameter(name, value, hints[name])
    values.pop("profile", None)
    return cls(profile=profile, **values)


def _parameter_names(cells: list[str]) -> list[str]:
    """Names assigned in the executed cells that start with ``# Parameters`` (the notebook's
    parameters cell and the one papermill injects after it), in order."""
    names: list[str] = []
    for source in cells:
        if not str(source).lstrip().startswith("# Parameters"):
            continue
        try:
            tree = ast.parse(source)
        except SyntaxError:
            continue
        for node in tree.body:
            if isinstance(node, ast.Assign):
                names += [t.id for t in node.targets if isinstance(t, ast.Name) and t.id not in names]
    return names


def notebook_parameters(namespace: Mapping[str, Any], settings_cls: type) -> dict[str, Any]:
    """The study parameters of a running notebook, checked against the fields of ``settings_cls``.

    The parameters are the names assigned in the executed cells that start with ``# Parameters``
    (the notebook's ``parameters`` cell and the cell papermill injects), read from IPython's input
    history ``namespace["In"]``; their values come from ``namespace``. A parameter the study does not
    have (``papermill -p epoch 3``) stops the notebook here with a :class:`ParameterError` that
    suggests the closest name, instead of being silently ignored. Returns ``{name: value}``.
    """
    fields = [f.name for f in dataclasses.fields(settings_cls)]
    names = _parameter_names(list(namespace.get("In") or []))
    if not names:
        raise ParameterError("no executed cell starts with '# Parameters': run the notebook's parameters cell first")
    unknown = [n for n in names if n not in fields]
    if unknown:
        hints = [
            f"{u!r} (did you mean {m[0]!r}?)" if (m := difflib.get_close_matches(u, fields, 1)) else repr(u)
            for u in unknown
        ]
        raise ParameterError(
            f"unknown notebook parameter(s) {', '.join(hints)}; {settings_cls.__name__} has {sorted(fields)}"
        )
    return {n: namespace[n] for n in names}
