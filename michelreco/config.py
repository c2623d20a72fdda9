"""Finder configuration files: JSON or YAML mappings of parameter names to values, validated, never executed."""

from __future__ import annotations

import json
from os import PathLike
from pathlib import Path
from typing import Any

import yaml

from michelreco.errors import InputError
from michelreco.reco.schema import check_value

__all__ = ["load_mapping", "check_params"]


def load_mapping(path: str | PathLike) -> dict[str, Any]:
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


def check_params(params: dict[str, Any], defaults: dict[str, Any], where: str = "config") -> dict[str, Any]:
    """Check the names of ``params`` against ``defaults`` and each value's type and range against the finder's
    schema (``michelreco.reco.schema``); return them with ints promoted to floats where the default is one.

    Parameters
    ----------
    params : dict
        Parameter name -> value, as read from a file.
    defaults : dict
        Every known parameter name -> its default (the names allowed).
    where : str
        What the one-line error names first (a file, ``MichelFinder``).

    Returns
    -------
    dict
        The checked parameters, ints promoted to floats where the default is a float.

    Raises
    ------
    InputError
        An unknown name, or a value of the wrong type or outside its range.
    """
    out = {}
    for name, value in params.items():
        if name not in defaults:
            raise InputError(f"{where}: unknown parameter '{name}' (known: {', '.join(sorted(defaults))})")
        out[name] = check_value(name, value, where)
    return out
