"""The registry of latent-size selection methods: one module per method, each declaring
a :class:`~benchmark.methods.base.Method` as ``METHOD``.

``METHODS`` maps each name (docs/tracking.md's spelling) to its method, in report order;
:func:`method` and :func:`parse_methods` turn user input into methods or fail with one
line that lists the allowed names. Adding a method is adding its module here.
"""

from __future__ import annotations

from benchmark.errors import ConfigError
from benchmark.methods import (
    active_units,
    adaptive,
    ard,
    grid,
    halving,
    hyperband,
    ordered,
    tpe,
)
from benchmark.methods.base import Kind, Method

_MODULES = (adaptive, grid, halving, tpe, hyperband, active_units, ordered, ard)
METHODS: dict[str, Method] = {
    m.name: m for m in sorted((mod.METHOD for mod in _MODULES), key=lambda m: m.order)
}
if len(METHODS) != len(_MODULES):  # two modules declaring one name would hide one
    raise RuntimeError("two method modules declare the same name")


def allowed_names() -> str:
    """The registered names, comma-separated, in report order."""
    return ", ".join(METHODS)


def method(name: str) -> Method:
    """The method registered as ``name``; :class:`ConfigError` naming the allowed ones."""
    try:
        return METHODS[name]
    except KeyError:
        raise ConfigError(f"unknown method {name!r}; allowed: {allowed_names()}") from None


def default_methods() -> tuple[Method, ...]:
    """The methods ``benchmark`` runs when ``methods`` is not given (today's set)."""
    return tuple(m for m in METHODS.values() if m.default)


def parse_methods(text: str) -> tuple[Method, ...]:
    """Methods of a comma list such as ``"adaptive,grid"``, in the order given.

    Blanks around names are ignored; an empty list, an empty item, an unknown name or a
    name given twice fails with one line."""
    items = [item.strip() for item in text.split(",")]
    if not text.strip() or any(not item for item in items):
        raise ConfigError(
            f"methods={text!r} is malformed; expected a comma list of: {allowed_names()}"
        )
    chosen = tuple(method(item) for item in items)
    if len({m.name for m in chosen}) != len(chosen):
        raise ConfigError(f"methods={text!r} has duplicates; each method may appear once")
    return chosen


__all__ = [
    "METHODS",
    "Kind",
    "Method",
    "allowed_names",
    "default_methods",
    "method",
    "parse_methods",
]
