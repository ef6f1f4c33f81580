"""Read-only dicts and lists for parsed configuration that is shared between callers.

Why: frameworks and the KPI catalogue are parsed once per process and the same objects are
handed to every caller (:mod:`dx_pipeline.reference.config_cache`). Their dataclasses are
frozen, but a rule's ``params``, a KPI's ``levels`` or a ranking's groups were plain dicts: one
caller's ``node.params["cap"] = 0`` would have changed every later score in that process.

:class:`FrozenDict` and :class:`FrozenList` are ``dict`` and ``list`` subclasses that refuse
every change, so everything that reads them as a dict or a list goes on working unchanged:
``json.dumps``, ``yaml.safe_dump`` (representers registered below), ``dataclasses.asdict``,
``copy.deepcopy``, ``pickle``, equality with plain dicts and lists.
"""

from __future__ import annotations

from typing import Any, NoReturn

import yaml
from yaml.representer import SafeRepresenter


def _refuse(self: object, *args: object, **kwargs: object) -> NoReturn:
    raise TypeError(
        f"{type(self).__name__} is read-only: it is shared configuration (copy it with dict() or "
        "list() to change a copy)"
    )


class _Shared:
    """What both read-only containers share: copying one gives the same object (nothing in it
    can change), pickling one rebuilds it from its plain ``dict``/``list`` value."""

    __slots__ = ()

    def __reduce__(self) -> tuple[Any, ...]:
        plain = dict if isinstance(self, dict) else list
        return (type(self), (plain(self),))  # type: ignore[call-overload]

    def __copy__(self) -> Any:
        return self

    def __deepcopy__(self, memo: dict) -> Any:
        return self


class FrozenDict(_Shared, dict):
    """A ``dict`` that cannot be changed after it is made."""

    __slots__ = ()
    __setitem__ = __delitem__ = __ior__ = _refuse
    clear = pop = popitem = setdefault = update = _refuse


class FrozenList(_Shared, list):
    """A ``list`` that cannot be changed after it is made."""

    __slots__ = ()
    __setitem__ = __delitem__ = __iadd__ = __imul__ = _refuse
    append = extend = insert = pop = remove = clear = sort = reverse = _refuse


def freeze(value: Any) -> Any:
    """``value`` with every dict and list in it, at any depth, made read-only (tuples kept as
    tuples, with their items frozen); anything else is returned as it is."""
    if isinstance(value, dict):
        return value if isinstance(value, FrozenDict) else FrozenDict(
            (k, freeze(v)) for k, v in value.items())
    if isinstance(value, list):
        return value if isinstance(value, FrozenList) else FrozenList(freeze(v) for v in value)
    if isinstance(value, tuple) and not hasattr(value, "_fields"):
        return tuple(freeze(v) for v in value)
    return value


for _dumper in (yaml.SafeDumper, yaml.Dumper):
    _dumper.add_representer(FrozenDict, SafeRepresenter.represent_dict)
    _dumper.add_representer(FrozenList, SafeRepresenter.represent_list)
