"""Finder configuration files: JSON or YAML mappings of parameter names to values, validated, never executed."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from michelreco.errors import InputError

__all__ = ["load_mapping", "check_params"]


def load_mapping(path) -> dict[str, Any]:
    """Read a JSON (``.json``) or YAML (anything else) file that must hold a mapping."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    text = path.read_text()
    try:
        data = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    except (json.JSONDecodeError, yaml.YAMLError) as err:
        first = str(err).splitlines()[0]
        raise InputError(f"{path}: not valid {'JSON' if path.suffix == '.json' else 'YAML'}: {first}") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise InputError(f"{path}: expected a mapping of parameter names to values, got {type(data).__name__}")
    return data


def _type_ok(value, default) -> bool:
    """Does ``value`` have the type of the parameter whose default is ``default``?"""
    if isinstance(default, bool):
        return isinstance(value, bool)
    if isinstance(default, int):
        return isinstance(value, int) and not isinstance(value, bool)
    if isinstance(default, float):
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if default is None:
        return True
    return isinstance(value, type(default))


def check_params(params: dict[str, Any], defaults: dict[str, Any], where: str = "config") -> dict[str, Any]:
    """Check names and types of ``params`` against ``defaults``; return them with ints promoted to floats."""
    out = {}
    for name, value in params.items():
        if name not in defaults:
            raise InputError(f"{where}: unknown parameter '{name}' (known: {', '.join(sorted(defaults))})")
        default = defaults[name]
        if not _type_ok(value, default):
            raise InputError(f"{where}: parameter '{name}' must be {type(default).__name__}, "
                             f"got {value!r} ({type(value).__name__})")
        out[name] = float(value) if isinstance(default, float) else value
    return out
