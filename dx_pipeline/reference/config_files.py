"""Reading a YAML configuration file so that whatever is wrong with it names the file.

Every configuration file a province edits (field mappings, the submission layout, the reporting
database mapping; the catalogue, targets and frameworks have their own loaders) is read through
:func:`read_mapping` and its keys taken with :func:`need`, so a typo costs one clear
``ValueError`` ("portal_fields.yaml: missing 'dossier_fields' (a mapping)") instead of a
``KeyError`` or ``AttributeError`` from deep inside a stage. Reading only; what the values mean
is the loaders'.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml


def read_mapping(path: str | Path) -> dict:
    """The YAML mapping in ``path``; ``ValueError`` naming the file when it is missing, not
    UTF-8, not valid YAML or not a mapping."""
    path = Path(path)
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ValueError(f"{path}: the file is missing") from None
    except UnicodeDecodeError as exc:
        raise ValueError(f"{path}: not UTF-8 text (byte {exc.start}): save it as UTF-8") from None
    except yaml.YAMLError as exc:
        raise ValueError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(doc, dict):
        raise ValueError(f"{path}: expected a mapping of settings at the top, found {type(doc).__name__}")
    return doc


def need(doc: dict, key: str, kind: type, path: str | Path) -> Any:
    """``doc[key]`` when it is a ``kind``; ``ValueError`` naming the file and the key otherwise."""
    value = doc.get(key)
    if isinstance(value, kind) and not isinstance(value, bool):
        return value
    what = {dict: "a mapping", list: "a list", str: "text", int: "a whole number"}.get(kind, kind.__name__)
    found = "missing" if key not in doc else f"{type(value).__name__} {value!r}"[:80]
    raise ValueError(f"{path}: {key!r} must be {what} ({found})")


__all__ = ["need", "read_mapping"]
