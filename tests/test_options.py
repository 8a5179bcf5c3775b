"""Options of the wrong type raise ``TypeError`` naming the option and the shape it takes;
a value of the right type that cannot work raises ``ValueError`` (DESIGN.md, issue 18)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import hookyard


def notify(message: str) -> None:
    pass


@pytest.mark.parametrize(
    ("options", "words"),
    [
        ({"api": ["notify"]}, ["api must be a mapping", "api={'notify': notify}", "a list"]),
        ({"api": "notify"}, ["api must be a mapping", "a str"]),
        ({"api": {"notify": "notify"}}, ["api['notify'] must be a function", "a str"]),
        ({"api": {1: notify}}, ["api names must be str", "an int"]),
        ({"modules": "math"}, ["modules must be a collection of module names", "('math', 'json')"]),
        ({"modules": 3}, ["modules must be a collection", "an int"]),
        ({"modules": ["math", 3]}, ["modules must hold module names", "an int"]),
        ({"limits": {"operations": 10}}, ["limits must be a hookyard.Limits", "a dict"]),
        ({"strict_modes": "yes"}, ["strict_modes must be True or False", "a str"]),
        ({"max_script_bytes": "1MB"}, ["max_script_bytes must be an int", "a str"]),
        ({"isolation": None}, ["isolation must be 'inline', 'process'", "None"]),
        ({"polling": "often"}, ["polling must be a number of seconds", "a str"]),
        ({"delete_grace": "0.2"}, ["delete_grace must be a number of seconds", "a str"]),
        ({"audit_log": 3}, ["audit_log must be a file path or a hookyard.audit.AuditLog"]),
        ({"cache_dir": 42}, ["cache_dir must be a directory path", "or None", "an int"]),
        ({"cache_dir": True}, ["cache_dir must be a directory path", "a bool"]),
    ],
)
def test_wrong_option_types_name_the_option_and_shape(
    tmp_path: Path, options: dict[str, Any], words: list[str]
) -> None:
    """``HookEngine(d, api=["notify"])``, ``modules="math"``... each raise a TypeError
    that says which option and what it takes."""
    with pytest.raises(TypeError) as caught:
        hookyard.HookEngine(tmp_path, **options)
    for word in words:
        assert word in str(caught.value)


def test_the_directory_must_be_a_path() -> None:
    """The hook directory is a str or a Path."""
    with pytest.raises(TypeError, match=r"hook directory must be a path \(str or pathlib.Path\)"):
        hookyard.HookEngine(3)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("options", "words"),
    [
        ({"api": {"not a name": notify}}, "api name 'not a name' is not a name"),
        ({"max_script_bytes": 0}, "max_script_bytes must be at least 1"),
        ({"cache_dir": ""}, "cache_dir must name a directory"),
        ({"isolation": "processes"}, "isolation must be"),
        ({"modules": ["os"]}, "os"),
    ],
)
def test_wrong_values_are_value_errors(tmp_path: Path, options: dict[str, Any], words: str) -> None:
    """The right type with a value that cannot work is a ValueError naming it."""
    with pytest.raises(ValueError, match=words):
        hookyard.HookEngine(tmp_path, **options)


def test_right_shapes_are_accepted(tmp_path: Path) -> None:
    """Any mapping for ``api``, any iterable of names for ``modules``, a Path or str."""
    from types import MappingProxyType

    engine = hookyard.HookEngine(
        str(tmp_path), api=MappingProxyType({"notify": notify}), modules=iter(["math", "json"])
    )
    assert engine.modules == ("math", "json")


@pytest.mark.parametrize(
    ("call", "words"),
    [
        (lambda e: e.hook(3), "a hook point's name must be a str"),
        (lambda e: e.hook("p", result=True), "result must be 'keep' or 'replace'"),
        (lambda e: e.hook("p", on_error=None), "on_error must be 'isolate' or 'raise'"),
        (lambda e: e.hook("p", veto="yes"), "veto must be True or False"),
        (lambda e: hookyard.add_hook("p", veto=1), "veto must be True or False"),
    ],
)
def test_wrong_point_option_types(tmp_path: Path, call: Any, words: str) -> None:
    """``@engine.hook`` and ``@add_hook`` check their options' types when applied."""
    engine = hookyard.HookEngine(tmp_path)
    with pytest.raises(TypeError, match=words):
        call(engine)


@pytest.mark.parametrize(
    ("make", "words"),
    [
        (lambda: hookyard.Limits(operations="1000"), "Limits.operations must be an int"),
        (lambda: hookyard.Limits(seconds="1"), "Limits.seconds must be a number"),
        (lambda: hookyard.ProcessIsolation(workers=2.0), "ProcessIsolation.workers must be an int"),
        (lambda: hookyard.ProcessIsolation(grace="1"), "ProcessIsolation.grace must be a number"),
    ],
)
def test_value_objects_check_their_types(make: Any, words: str) -> None:
    """``Limits`` and ``ProcessIsolation`` raise TypeError for a wrong type too."""
    with pytest.raises(TypeError, match=words):
        make()


def test_configure_checks_like_the_engine(tmp_path: Path) -> None:
    """``hookyard.configure(d, api=[...])`` is the same TypeError."""
    with pytest.raises(TypeError, match="api must be a mapping"):
        hookyard.configure(tmp_path, api=["notify"])
