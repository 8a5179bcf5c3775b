"""The first line of the sandbox: a hostile script runs none of its payload, the host call returns.

(The full escape corpus lives in tests/test_escape_*.py, one file per family.)
"""

from __future__ import annotations

import pytest

from tests.conftest import MakeEngine

IMPORT_OS = "import os\ndef pre():\n    os.system('touch /tmp/hookyard-pwned')\n"
OPEN_FILE = "def pre():\n    api.leak(open('/etc/passwd').read())\n"
SUBCLASSES = "def pre():\n    api.leak(str(().__class__.__bases__[0].__subclasses__()))\n"


@pytest.mark.parametrize(
    "payload", [IMPORT_OS, OPEN_FILE, SUBCLASSES], ids=["import-os", "open", "subclasses"]
)
def test_hostile_script_runs_nothing_and_host_call_returns(
    make_engine: MakeEngine, payload: str
) -> None:
    """import os / open(...) / ().__class__.__bases__[0].__subclasses__() reach nothing."""
    leaked: list[object] = []
    engine = make_engine({"p/10-evil.py": payload}, api={"leak": leaked.append})

    @engine.hook("p")
    def host() -> str:
        return "served"

    assert host() == "served"
    assert leaked == []


def test_import_outside_allow_list_fails_at_run_time_with_clear_message(
    make_engine: MakeEngine,
) -> None:
    """An import inside a hook function of a module not on the allow-list raises ImportError there."""
    seen: list[object] = []
    engine = make_engine(
        {
            "p/10-x.py": """
                def pre():
                    try:
                        import socket
                    except ImportError as exc:
                        api.record(str(exc))
            """
        },
        api={"record": seen.append},
    )

    @engine.hook("p")
    def host() -> None: ...

    host()
    assert len(seen) == 1
    assert "socket" in str(seen[0]) and "not allowed" in str(seen[0])
