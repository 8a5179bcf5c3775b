"""Recording calls (``engine.record``, DESIGN.md "Safe rollout"): one complete JSON line per
call of the point, values as the scripts saw them, typed, secrets redacted."""

from __future__ import annotations

import dataclasses
import datetime
import decimal
import json
import threading
import uuid
from pathlib import Path
from typing import Any

import pytest

import hookyard
from tests.conftest import BOTH_MODES, MakeEngine

pytestmark = BOTH_MODES

SCRIPTS = {
    "create/10-check.py": """
        def pre(name, spec, **options):
            if name == "bad":
                raise Veto("bad name")
    """,
    "create/50-notify.py": """
        def post(rv, name, spec, **options):
            answer = api.notify(f"created {name}")
            return {**rv, "answer": answer}
    """,
}


@dataclasses.dataclass
class Spec:
    size: int
    tags: tuple[str, ...]


def lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


@pytest.fixture
def service(make_engine: MakeEngine) -> Any:
    engine = make_engine(SCRIPTS, api={"notify": lambda message: {"sent": message}})

    @engine.hook("create", veto=True, result="replace")
    def create(name: str, spec: Any, **options: Any) -> dict[str, Any]:
        if name == "boom":
            raise KeyError("no capacity")
        return {"name": name}

    return engine, create


def test_a_line_per_call_with_what_happened(service: Any, tmp_path: Path) -> None:
    """Each call is one line: arguments as the scripts saw them (a dataclass as a dict, a
    tuple as a tuple), the host's result, every script's version and outcome, the api calls
    with arguments and results, and the final result."""
    engine, create = service
    path = tmp_path / "create.jsonl"
    engine.record("create", path)
    assert create("web", Spec(2, ("a", "b")), zone="z1") == {
        "name": "web",
        "answer": {"sent": "created web"},
    }
    (line,) = lines(path)
    assert line["point"] == "create"
    assert line["options"] == {"result": "replace", "on_error": "isolate", "veto": True}
    assert line["args"] == ["web", {"size": 2, "tags": {"$tuple": ["a", "b"]}}]
    assert line["kwargs"] == {"zone": "z1"}
    assert line["host"] == {"result": {"name": "web"}}
    versions = {Path(s.file).name: s.version for s in engine.status()}
    assert [(s["script"], s["version"], s["phase"], s["outcome"]) for s in line["scripts"]] == [
        ("10-check.py", versions["10-check.py"], "pre", "ok"),
        ("50-notify.py", versions["50-notify.py"], "post", "replaced"),
    ]
    (api,) = line["api"]
    assert (api["script"], api["phase"], api["name"], api["args"], api["made"]) == (
        "50-notify.py",
        "post",
        "notify",
        ["created web"],
        True,
    )
    assert api["result"] == {"sent": "created web"}
    assert line["outcome"] == {"result": {"name": "web", "answer": {"sent": "created web"}}}


def test_vetoes_and_exceptions_are_recorded(service: Any, tmp_path: Path) -> None:
    """A vetoed call records the veto and no host result; a host exception is recorded
    by type and message, both as the host's and as the call's outcome."""
    engine, create = service
    path = tmp_path / "create.jsonl"
    engine.record("create", path)
    with pytest.raises(hookyard.HookVetoed):
        create("bad", None)
    with pytest.raises(KeyError):
        create("boom", None)
    vetoed, raised = lines(path)
    assert vetoed["host"] is None
    assert vetoed["outcome"] == {"vetoed": "bad name", "script": "10-check.py"}
    assert raised["host"] == {"raised": ["KeyError", "KeyError", "no capacity"]}
    assert raised["outcome"] == raised["host"]


def test_redaction_at_any_depth_and_any_case(make_engine: MakeEngine, tmp_path: Path) -> None:
    """Values under keys containing a redacted word (any case, any depth, in arguments,
    results and api calls) and positional parameters so named are stored as "***"; the
    secret text is nowhere in the file."""
    engine = make_engine(
        {
            "login/10-x.py": "def pre(user, secret, **kw):\n    api.check({'Auth': {'Token': secret}})\n"
        },
        api={"check": lambda value: {"PASSWORD": "hunter2-echo"}},
    )

    @engine.hook("login")
    def login(user: str, secret: str, **kw: Any) -> dict[str, Any]:
        return {"user": user, "nested": [{"db_password": "hunter2-result"}]}

    path = tmp_path / "login.jsonl"
    engine.record("login", path)
    login("ann", "hunter2-arg", options={"API_TOKEN": "hunter2-kw", "plain": 1})
    text = path.read_text(encoding="utf-8")
    assert "hunter2" not in text
    (line,) = lines(path)
    assert line["args"] == ["ann", "***"]
    assert line["kwargs"] == {"options": {"API_TOKEN": "***", "plain": 1}}
    assert line["host"] == {"result": {"user": "ann", "nested": [{"db_password": "***"}]}}
    (api,) = line["api"]
    assert api["args"] == [{"Auth": {"Token": "***"}}]
    assert api["result"] == {"PASSWORD": "***"}


def test_custom_redaction_words(make_engine: MakeEngine, tmp_path: Path) -> None:
    """redact= replaces the default words."""
    engine = make_engine({"p/10-x.py": "def pre(d):\n    pass\n"})

    @engine.hook("p")
    def host(d: dict[str, str]) -> None:
        return None

    path = tmp_path / "p.jsonl"
    engine.record("p", path, redact=("ssn",))
    host({"SSN": "123", "password": "kept"})
    assert lines(path)[0]["args"] == [{"SSN": "***", "password": "kept"}]


def test_non_json_values_are_tagged(make_engine: MakeEngine, tmp_path: Path) -> None:
    """Plain data JSON cannot hold is tagged with its type (read back by replay)."""
    engine = make_engine({"p/10-x.py": "def pre(v):\n    pass\n"})

    @engine.hook("p")
    def host(v: Any) -> None:
        return None

    path = tmp_path / "p.jsonl"
    engine.record("p", path)
    zone = datetime.timezone(datetime.timedelta(hours=2), "CEST")
    host(
        {
            "when": datetime.datetime(2024, 5, 1, 12, 0, tzinfo=zone),
            "money": decimal.Decimal("1.10"),
            "id": uuid.UUID(int=7),
            "raw": b"\x00\xff",
            "set": {3},
            1: float("nan"),
            "$not_a_tag": None,
        }
    )
    (line,) = lines(path)
    pairs = {json.dumps(k): v for k, v in line["args"][0]["$dict"]}
    assert pairs['"when"'] == {"$datetime": ["2024-05-01T12:00:00", 0, [0, 7200, 0, "CEST"]]}
    assert pairs['"money"'] == {"$decimal": "1.10"}
    assert pairs['"id"'] == {"$uuid": str(uuid.UUID(int=7))}
    assert pairs['"raw"'] == {"$bytes": "AP8="}
    assert pairs['"set"'] == {"$set": [3]}
    assert pairs["1"] == {"$float": "nan"}
    assert pairs['"$not_a_tag"'] is None


def test_limit_stops_the_recording(service: Any, tmp_path: Path) -> None:
    """Recording stops after `limit` calls; later calls are not written."""
    engine, create = service
    path = tmp_path / "create.jsonl"
    engine.record("create", path, limit=2)
    for name in ("a", "b", "c", "d"):
        create(name, None)
    assert [line["args"][0] for line in lines(path)] == ["a", "b"]


def test_stop_recording(service: Any, tmp_path: Path) -> None:
    """stop_recording(point) stops it; recording again appends to the file."""
    engine, create = service
    path = tmp_path / "create.jsonl"
    engine.record("create", path)
    create("a", None)
    engine.stop_recording("create")
    create("b", None)
    engine.record("create", path)
    create("c", None)
    assert [line["args"][0] for line in lines(path)] == ["a", "c"]


def test_only_the_recorded_point(make_engine: MakeEngine, tmp_path: Path) -> None:
    """Calls of other points are not recorded, nor are points with no scripts unless
    recorded themselves (a point with no scripts can be recorded)."""
    engine = make_engine({"a/10-x.py": "def pre():\n    pass\n"})

    @engine.hook("a")
    def a() -> str:
        return "a"

    @engine.hook("b")
    def b() -> str:
        return "b"

    path = tmp_path / "b.jsonl"
    engine.record("b", path)
    assert (a(), b(), a(), b()) == ("a", "b", "a", "b")
    assert [line["host"] for line in lines(path)] == [{"result": "b"}] * 2


def test_lines_stay_whole_with_many_threads(service: Any, tmp_path: Path) -> None:
    """Calls from many threads each write one complete line."""
    engine, create = service
    path = tmp_path / "create.jsonl"
    engine.record("create", path, limit=10_000)
    big = {"payload": "x" * 20_000}

    def caller(index: int) -> None:
        for n in range(25):
            create(f"t{index}-{n}", big)

    threads = [threading.Thread(target=caller, args=(i,)) for i in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    found = lines(path)  # every line parses
    assert sorted(line["args"][0] for line in found) == sorted(
        f"t{i}-{n}" for i in range(6) for n in range(25)
    )


def test_shadow_api_calls_are_recorded_as_not_made(make_engine: MakeEngine, tmp_path: Path) -> None:
    """A shadow's api call that did not reach the host is recorded with made=false."""
    sent: list[str] = []
    engine = make_engine(
        {"p/50-x.shadow.py": "def pre(x):\n    api.notify(x)\n"}, api={"notify": sent.append}
    )

    @engine.hook("p")
    def host(x: str) -> str:
        return x

    path = tmp_path / "p.jsonl"
    engine.record("p", path)
    host("hello")
    (line,) = lines(path)
    assert sent == []
    assert [(a["script"], a["name"], a["args"], a["made"]) for a in line["api"]] == [
        ("50-x.shadow.py", "notify", ["hello"], False)
    ]
    assert line["scripts"][0]["mode"] == "shadow"


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda e, p: e.record("a/b", p), ValueError, "plain folder names"),
        (lambda e, p: e.record("p", p, limit=0), ValueError, "limit"),
        (lambda e, p: e.record("p", p, redact="password"), TypeError, "redact"),
        (lambda e, p: e.record("p", 42), TypeError, "path"),
    ],
)
def test_bad_record_options(
    make_engine: MakeEngine, tmp_path: Path, call: Any, error: type, match: str
) -> None:
    """record() refuses bad options with the option named."""
    engine = make_engine({})
    with pytest.raises(error, match=match):
        call(engine, tmp_path / "r.jsonl")


def test_async_host_functions_are_recorded(make_engine: MakeEngine, tmp_path: Path) -> None:
    """An async def host function's calls are recorded like any other, each call apart
    even when they interleave on one event loop."""
    import asyncio

    engine = make_engine({"p/10-x.py": "def pre(x):\n    api.seen(x)\n"}, api={"seen": lambda x: x})

    @engine.hook("p")
    async def host(x: str) -> str:
        await asyncio.sleep(0)  # let the other call run in between
        return x.upper()

    path = tmp_path / "p.jsonl"
    engine.record("p", path)

    async def both() -> list[str]:
        return list(await asyncio.gather(host("a"), host("b")))

    assert asyncio.run(both()) == ["A", "B"]
    found = {line["args"][0]: line for line in lines(path)}
    for x in ("a", "b"):
        assert found[x]["host"] == {"result": x.upper()}
        assert [(a["args"], a["result"]) for a in found[x]["api"]] == [([x], x)]


def test_any_text_stays_on_its_line(make_engine: MakeEngine, tmp_path: Path) -> None:
    """Text with line separators, non-ASCII letters or lone surrogates is written on the
    call's one line and read back as it was."""
    engine = make_engine({"p/10-x.py": "def pre(x):\n    pass\n"})

    @engine.hook("p")
    def host(x: str) -> str:
        return x

    path = tmp_path / "p.jsonl"
    engine.record("p", path)
    texts = ["é\u2028line\u2029sep\x85", "lone \ud800 surrogate", "plain"]
    for text in texts:
        host(text)
    raw = path.read_bytes()
    assert raw.count(b"\n") == 3
    assert len(path.read_text(encoding="utf-8", errors="surrogatepass").splitlines()) == 3
    assert [json.loads(line)["args"][0] for line in raw.split(b"\n")[:3]] == texts
