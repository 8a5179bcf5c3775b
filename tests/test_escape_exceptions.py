"""Escapes through exceptions: .obj, except*, BaseExceptions, host exceptions rebuilt."""

from __future__ import annotations

from pathlib import Path

import pytest

import hookyard
from tests.escapes import assert_contained, run_payload

# AttributeError.obj hands back the object the lookup failed on (CVE-2024-47532)
ATTRIBUTE_ERROR_OBJ = (
    "def pre(*a):\n"
    "    try:\n        api.missing\n"
    "    except AttributeError as e:\n        api.leak(str(e.obj))\n"
)
ATTRIBUTE_ERROR_OBJ_GETATTR = (
    "def pre(*a):\n"
    "    try:\n        (1).missing\n"
    "    except AttributeError as e:\n        api.leak(str(getattr(e, 'obj')))\n"
)
# try/except* type confusion (CVE-2025-22153): refused at compile time
EXCEPT_STAR = (
    "def pre(*a):\n"
    "    try:\n        raise ValueError('x')\n"
    "    except* ValueError as g:\n        api.leak(str(g))\n"
)
# ExceptionGroup is a standard exception class scripts get (issue 14); `except*` is not
EXCEPTION_GROUP_STAR = (
    "def pre(*a):\n    try:\n        raise ExceptionGroup('x', [ValueError()])\n"
    "    except* ValueError:\n        api.leak('escaped')\n"
)
# interpreter signals: not available to raise
RAISE_SYSTEM_EXIT = "def pre(*a):\n    raise SystemExit(1)\n"
RAISE_KEYBOARD_INTERRUPT = "def pre(*a):\n    raise KeyboardInterrupt\n"
RAISE_GENERATOR_EXIT = "def pre(*a):\n    raise GeneratorExit\n"
# a BaseException that is not an Exception still stops at the boundary
RAISE_BASE_EXCEPTION = "def pre(*a):\n    raise BaseException('out')\n"
# GeneratorExit captured from a generator's close() and raised again
SMUGGLED_GENERATOR_EXIT = (
    "def pre(*a):\n"
    "    box = []\n"
    "    def g():\n"
    "        try:\n            yield 1\n"
    "        except BaseException as e:\n            box.append(e)\n            raise\n"
    "    it = g()\n    next(it)\n    it.close()\n"
    "    raise box[0]\n"
)
# a generator throw() of a BaseException class
GENERATOR_THROW_BASE = (
    "def pre(*a):\n"
    "    def g():\n        yield 1\n"
    "    it = g()\n    next(it)\n    it.throw(BaseException)\n"
)
# exception context/cause/traceback dunders
EXCEPTION_TRACEBACK = (
    "def pre(*a):\n"
    "    try:\n        1 / 0\n"
    "    except Exception as e:\n        api.leak(str(getattr(e, '__traceback__')))\n"
)

PAYLOADS = {
    name: value for name, value in globals().items() if name.isupper() and isinstance(value, str)
}


@pytest.mark.parametrize("name", sorted(PAYLOADS))
def test_exception_payload_is_contained(tmp_path: Path, name: str) -> None:
    """No exception route hands out an object, and no BaseException reaches the host."""
    assert_contained(run_payload(tmp_path, PAYLOADS[name]))


def test_host_exception_reaches_script_rebuilt(tmp_path: Path) -> None:
    """An api function's exception arrives as a fresh exception: same type and message, no attributes of the original."""
    from tests.conftest import write_scripts

    class QuotaError(ValueError):
        def __init__(self, message: str, secret: object) -> None:
            super().__init__(message)
            self.secret = secret

    def failing_call() -> None:
        raise QuotaError("over quota", object())

    def failing_open() -> None:
        open("/nonexistent/hookyard/file")  # noqa: SIM115

    seen: list[object] = []
    root = write_scripts(
        tmp_path / "hooks",
        {
            "p/10-x.py": """
                def pre():
                    try:
                        api.failing_call()
                    except ValueError as e:
                        api.record([str(e), hasattr(e, 'secret'), len(e.args)])
                    try:
                        api.failing_open()
                    except OSError as e:
                        api.record([e.filename, e.errno])
            """
        },
    )
    engine = hookyard.HookEngine(
        root,
        api={"failing_call": failing_call, "failing_open": failing_open, "record": seen.append},
    )

    @engine.hook("p")
    def host() -> None: ...

    host()
    assert seen[0] == ["over quota", False, 1]
    assert seen[1] == [None, None]


def test_script_exception_reaches_host_sanitised(tmp_path: Path) -> None:
    """HookFailed's cause is rebuilt: the script's own exception class name, no traceback, no args objects."""
    from tests.conftest import write_scripts

    root = write_scripts(
        tmp_path / "hooks",
        {
            "p/10-x.py": """
                class PolicyError(ValueError):
                    pass
                def pre():
                    raise PolicyError("denied", [1, 2])
            """
        },
    )
    engine = hookyard.HookEngine(root)

    @engine.hook("p", on_error="raise")
    def host() -> None: ...

    with pytest.raises(hookyard.HookFailed) as caught:
        host()
    cause = caught.value.__cause__
    assert type(cause).__name__ == "PolicyError"
    assert isinstance(cause, ValueError)
    assert cause.__traceback__ is None
    assert cause.args == ("'denied', <list>",)
    assert "10-x.py:5" in str(caught.value)
