"""The registry of latent-size selection methods: one module per method, each declaring
a :class:`~benchmark.methods.base.Method` as ``METHOD``.

``METHODS`` maps each name (docs/tracking.md's spelling) to its method, in report order;
:func:`method` and :func:`parse_methods` turn user input into methods or fail with one
line that lists the allowed names.

Adding a method is adding its module to this folder: every module here (not the
folders, not ``base``) is imported and must declare ``METHOD``. The modules import no
torch at their top (their hooks do, when a method runs), so neither does this registry.
"""

from __future__ import annotations

import importlib
import pkgutil

from benchmark.errors import ConfigError
from benchmark.methods.base import Kind, Method, Pruner, Sampler, SizeChoice


def _discover() -> dict[str, Method]:
    """Every method module's ``METHOD``, by name, in report order."""
    found: list[Method] = []
    for info in pkgutil.iter_modules(__path__):
        if info.ispkg or info.name == "base":
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        declared = getattr(module, "METHOD", None)
        if not isinstance(declared, Method):
            raise RuntimeError(f"{module.__name__} declares no METHOD")
        found.append(declared)
    methods = {m.name: m for m in sorted(found, key=lambda m: (m.order, m.name))}
    if len(methods) != len(found):  # two modules declaring one name would hide one
        raise RuntimeError("two method modules declare the same name")
    return methods


METHODS: dict[str, Method] = _discover()


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
    "Pruner",
    "Sampler",
    "SizeChoice",
    "allowed_names",
    "default_methods",
    "method",
    "parse_methods",
]
