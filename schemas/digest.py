"""Which config fields shape a run's output. Config.digest hashes all the others, so a
field is in the digest unless its definition says why it is not: a new field can make a
rerun redo work, never skip work it should redo."""

from __future__ import annotations

import hashlib
import json

from pydantic import BaseModel
from pydantic.config import JsonDict

OUTSIDE_DIGEST = "outside_digest"


def outside_digest(why: str) -> JsonDict:
    """`json_schema_extra` of a field that does not shape what its pass writes; `why` says
    what it changes instead."""
    return {OUTSIDE_DIGEST: why}


def shaping(model: BaseModel) -> dict:
    """The model's dump without the fields, at any depth, marked outside_digest."""
    return _shaping(model, model.model_dump())


def settings_digest(settings: dict) -> str:
    """A short hash of shaping settings (see `shaping`)."""
    return hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:16]


def differences(before: dict, after: dict, prefix: str = "") -> list[str]:
    """`key: old -> new` for every dotted key whose value differs between two settings dicts."""
    out = []
    for key in sorted(before.keys() | after.keys()):
        old, new = before.get(key), after.get(key)
        if isinstance(old, dict) and isinstance(new, dict):
            out.extend(differences(old, new, f"{prefix}{key}."))
        elif old != new:
            out.append(f"{prefix}{key}: {old!r} -> {new!r}")
    return out


def outside(model_type: type[BaseModel], prefix: str = "") -> list[str]:
    """The dotted names of the fields marked outside_digest, at any depth."""
    names = []
    for name, field in model_type.model_fields.items():
        if _is_outside(field.json_schema_extra):
            names.append(prefix + name)
        elif isinstance(field.annotation, type) and issubclass(field.annotation, BaseModel):
            names.extend(outside(field.annotation, f"{prefix}{name}."))
    return names


def _shaping(model: BaseModel, dumped: dict) -> dict:
    kept = {}
    for name, field in type(model).model_fields.items():
        if _is_outside(field.json_schema_extra):
            continue
        value = getattr(model, name)
        kept[name] = _shaping(value, dumped[name]) if isinstance(value, BaseModel) else dumped[name]
    return kept


def _is_outside(extra: object) -> bool:
    return isinstance(extra, dict) and OUTSIDE_DIGEST in extra
