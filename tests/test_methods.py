"""The registry of selection methods (benchmark.methods): names as docs/tracking.md spells
them, one module per method, lookups and comma lists that fail with one line."""

from __future__ import annotations

import dataclasses
import importlib

import pytest

from benchmark.errors import ConfigError
from benchmark.methods import (
    METHODS,
    Kind,
    Method,
    Pruner,
    Sampler,
    allowed_names,
    default_methods,
    method,
    parse_methods,
)

# docs/tracking.md, tag `benchmark.selection_method`: written out, not imported, so a
# renamed method fails here.
CONTRACT_NAMES = (
    "adaptive",
    "grid",
    "halving",
    "tpe",
    "hyperband",
    "active-units",
    "ordered",
    "ard",
    "pca",
    "twonn",
)
# How each method runs, from issue 11 (a study of trainings, one training, or one
# training whose size a from-scratch retrain is evaluated at).
EXPECTED_KINDS = {
    "adaptive": Kind.SHRINKING,
    "grid": Kind.STUDY,
    "halving": Kind.STUDY,
    "tpe": Kind.STUDY,
    "hyperband": Kind.STUDY,
    "active-units": Kind.ONE_TRAINING_RETRAIN,
    "ordered": Kind.ONE_TRAINING,
    "ard": Kind.ONE_TRAINING_RETRAIN,
    "pca": Kind.DATA_RULE,
    "twonn": Kind.DATA_RULE,
}


def test_the_registry_holds_the_contract_names_in_report_order():
    assert list(METHODS) == list(CONTRACT_NAMES)
    assert [m.order for m in METHODS.values()] == sorted(m.order for m in METHODS.values())
    assert len({m.order for m in METHODS.values()}) == len(METHODS)


@pytest.mark.parametrize("name", CONTRACT_NAMES)
def test_each_method_lives_in_its_own_module(name):
    module = importlib.import_module(f"benchmark.methods.{name.replace('-', '_')}")
    assert module.METHOD is METHODS[name]
    assert module.__doc__ and len(module.__doc__) > 40


@pytest.mark.parametrize("name", CONTRACT_NAMES)
def test_each_method_declares_label_kind_compute_and_source(name):
    m = METHODS[name]
    assert m.name == name
    assert m.kind is EXPECTED_KINDS[name]
    for text in (m.label, m.compute, m.source):
        assert text.strip() and "\n" not in text
    assert m.compute.endswith(".")  # one sentence for the report
    assert m.retrains == (m.kind is Kind.ONE_TRAINING_RETRAIN)
    assert m.is_study == (m.kind is Kind.STUDY)


def test_labels_are_distinct_and_methods_are_frozen():
    labels = [m.label for m in METHODS.values()]
    assert len(set(labels)) == len(labels)
    with pytest.raises(dataclasses.FrozenInstanceError):
        METHODS["grid"].label = "other"  # type: ignore[misc]
    assert all(isinstance(m, Method) for m in METHODS.values())


def test_the_default_set_is_todays_benchmark():
    assert [m.name for m in default_methods()] == ["adaptive", "grid"]


def test_method_looks_up_a_name_and_refuses_others_in_one_line():
    assert method("active-units") is METHODS["active-units"]
    for bad in ("active_units", "Grid", "", "random"):
        with pytest.raises(ConfigError) as info:
            method(bad)
        message = str(info.value)
        assert "\n" not in message
        assert repr(bad) in message
        assert message.endswith("allowed: " + ", ".join(CONTRACT_NAMES))
    assert allowed_names() == ", ".join(CONTRACT_NAMES)


def test_parse_methods_keeps_the_order_given():
    assert [m.name for m in parse_methods("adaptive,grid")] == ["adaptive", "grid"]
    assert [m.name for m in parse_methods(" ard , tpe,ordered")] == ["ard", "tpe", "ordered"]
    everything = ",".join(reversed(CONTRACT_NAMES))
    assert [m.name for m in parse_methods(everything)] == list(reversed(CONTRACT_NAMES))


@pytest.mark.parametrize(
    "text, says",
    [
        ("", "malformed"),
        ("  ", "malformed"),
        ("adaptive,", "malformed"),
        ("adaptive,,grid", "malformed"),
        ("adaptive;grid", "unknown method"),
        ("adaptive,random", "unknown method 'random'"),
        ("grid,adaptive,grid", "duplicates"),
    ],
)
def test_parse_methods_refuses_malformed_lists_in_one_line(text, says):
    with pytest.raises(ConfigError) as info:
        parse_methods(text)
    message = str(info.value)
    assert "\n" not in message
    assert says in message


def test_each_study_declares_its_sampler_and_pruner():
    declared = {m.name: (m.sampler, m.pruner) for m in METHODS.values() if m.is_study}
    assert declared == {
        "grid": (Sampler.GRID, Pruner.NONE),
        "halving": (Sampler.GRID, Pruner.SUCCESSIVE_HALVING),
        "tpe": (Sampler.TPE, Pruner.NONE),
        "hyperband": (Sampler.GRID, Pruner.HYPERBAND),
    }
    assert [m.name for m in METHODS.values() if m.proposes_sizes] == ["tpe"]
    assert [m.name for m in METHODS.values() if m.shrinks] == ["adaptive"]


def _declare(**changes) -> Method:
    fields = dict(name="x", label="x", kind=Kind.ONE_TRAINING, compute="c.", source="s", order=99)
    return Method(**(fields | changes))


def test_a_method_must_declare_what_its_kind_runs_by():
    with pytest.raises(TypeError, match="must declare sampler"):
        _declare(kind=Kind.STUDY)
    with pytest.raises(TypeError, match="must declare size_of_model"):
        _declare(kind=Kind.ONE_TRAINING_RETRAIN)
    with pytest.raises(TypeError, match="must declare size_of_data"):
        _declare(kind=Kind.DATA_RULE)
    with pytest.raises(TypeError, match="not a study"):
        _declare(pruner=Pruner.HYPERBAND)
    assert _declare(kind=Kind.DATA_RULE, size_of_data=lambda x, cfg: None).kind is Kind.DATA_RULE


def test_the_registry_is_every_module_of_its_folder(tmp_path, monkeypatch):
    import benchmark.methods as registry

    # a new method is a new module in the folder, nothing else
    (tmp_path / "zz_extra.py").write_text(
        "from benchmark.methods.base import Kind, Method\n"
        "METHOD = Method(name='zz-extra', label='zz', kind=Kind.ONE_TRAINING, compute='c.',"
        " source='s', order=99)\n"
    )
    monkeypatch.setattr(registry, "__path__", [*registry.__path__, str(tmp_path)])
    found = registry._discover()
    assert list(found)[-1] == "zz-extra" and list(found)[:-1] == list(METHODS)
    (tmp_path / "zz_broken.py").write_text("X = 1\n")
    with pytest.raises(RuntimeError, match="zz_broken declares no METHOD"):
        registry._discover()
