"""Metrics and tracing (DESIGN.md "Observability"): a Prometheus registry scraped as a
server would, OpenTelemetry spans read back from the SDK's in-memory exporter, and nothing
imported or armed when neither is enabled."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

import hookyard
import hookyard.prometheus
from tests._reload_support import Events, script, version_of, write_inplace
from tests.conftest import BOTH_MODES

VETO = "def pre(n):\n    if n < 0:\n        raise Veto('negative')\n"
FAIL = "def post(rv, n):\n    if n == 13:\n        raise ValueError('unlucky')\n"


def scrape(registry: CollectorRegistry) -> dict[str, list[tuple[dict[str, str], float]]]:
    """``{sample name: [(labels, value)]}`` from the registry's text exposition."""
    samples: dict[str, list[tuple[dict[str, str], float]]] = {}
    text = generate_latest(registry).decode()
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples.setdefault(sample.name, []).append((dict(sample.labels), sample.value))
    return samples


def value(samples: Any, name: str, **labels: str) -> float:
    found = [v for have, v in samples.get(name, []) if all(have[k] == w for k, w in labels.items())]
    assert len(found) == 1, f"{name}{labels}: {samples.get(name)}"
    return float(found[0])


@pytest.fixture
def hooked(make_engine: Any) -> Any:
    """An engine with a vetoing pre, a replacing post and a failing post on point
    ``p``, registered on a fresh registry."""
    engine = make_engine(
        {"p/10-veto.py": VETO, "p/20-tag.py": script("tagged"), "p/30-fail.py": FAIL}
    )
    registry = CollectorRegistry()
    hookyard.prometheus.register(engine, registry)

    @engine.hook("p", result="replace", veto=True)
    def p(n: int) -> str:
        return "host"

    return engine, registry, p


@BOTH_MODES
def test_invocations_are_counted_by_outcome(hooked: Any) -> None:
    """Every script function call is counted by point, script, phase and outcome, and
    timed by point and phase."""
    _, registry, p = hooked
    for n in (1, 2, 13):
        assert p(n) == "tagged"
    with pytest.raises(hookyard.HookVetoed):
        p(-1)
    samples = scrape(registry)
    total = "hookyard_invocations_total"
    assert value(samples, total, script="10-veto.py", phase="pre", outcome="ok") == 3
    assert value(samples, total, script="10-veto.py", phase="pre", outcome="veto") == 1
    assert value(samples, total, script="20-tag.py", phase="post", outcome="replaced") == 3
    assert value(samples, total, script="20-tag.py", phase="post", outcome="skipped") == 1
    assert value(samples, total, script="30-fail.py", phase="post", outcome="error") == 1
    assert value(samples, total, script="30-fail.py", phase="post", outcome="ok") == 2
    assert all(labels["point"] == "p" for labels, _ in samples[total])
    count = "hookyard_invocation_seconds_count"
    assert value(samples, count, point="p", phase="pre") == 4
    assert value(samples, count, point="p", phase="post") == 6  # skipped ones never ran
    assert value(samples, "hookyard_invocation_seconds_bucket", phase="pre", le="+Inf") == 4
    assert value(samples, "hookyard_invocation_seconds_sum", phase="post") > 0


@BOTH_MODES
def test_serving_scripts_and_fingerprint(hooked: Any) -> None:
    """``hookyard_script_info`` has one sample per serving script with its version and
    mode; ``hookyard_fingerprint_info`` carries the engine's fingerprint, and both follow
    a reload."""
    engine, registry, _ = hooked
    samples = scrape(registry)
    info = sorted(
        (labels["script"], labels["version"], labels["mode"])
        for labels, _ in samples["hookyard_script_info"]
    )
    assert info == [
        ("10-veto.py", version_of(VETO), "enforce"),
        ("20-tag.py", version_of(script("tagged")), "enforce"),
        ("30-fail.py", version_of(FAIL), "enforce"),
    ]
    [(labels, one)] = samples["hookyard_fingerprint_info"]
    assert (labels["fingerprint"], one) == (engine.fingerprint(), 1.0)
    before = engine.fingerprint()
    write_inplace(engine.directory / "p" / "20-tag.py", script("retagged"))
    engine.reload()
    samples = scrape(registry)
    assert value(samples, "hookyard_script_info", script="20-tag.py")  # still one sample
    assert value(samples, "hookyard_script_info", version=version_of(script("retagged"))) == 1
    [(labels, _)] = samples["hookyard_fingerprint_info"]
    assert labels["fingerprint"] == engine.fingerprint() != before


def test_register_twice_and_unregister(hooked: Any) -> None:
    """Registering an engine again changes nothing; unregistering stops the counting and
    the export (and disarms the points when nothing else listens)."""
    engine, registry, p = hooked
    hookyard.prometheus.register(engine, registry)
    p(1)
    assert value(scrape(registry), "hookyard_invocations_total", script="20-tag.py") == 1
    hookyard.prometheus.unregister(engine, registry)
    p(1)
    assert "hookyard_invocations_total" not in scrape(registry)
    assert engine._points["p"].observer is None


def test_default_registry(make_engine: Any) -> None:
    """Without a registry the engine is exported on prometheus_client's default one."""
    from prometheus_client import REGISTRY

    engine = make_engine({"p/10-x.py": script("x")})
    hookyard.prometheus.register(engine)
    try:
        assert value(scrape(REGISTRY), "hookyard_fingerprint_info") == 1
    finally:
        hookyard.prometheus.unregister(engine)


# -- what a host that enables nothing pays: run in a fresh interpreter ------------------------
def run_host(tmp_path: Path, body: str) -> Any:
    """Run ``body`` in a fresh interpreter with a hook directory ``hooks`` holding
    ``p/10-x.py``; what it prints last is returned, decoded from JSON."""
    hooks = tmp_path / "hooks" / "p"
    hooks.mkdir(parents=True)
    write_inplace(hooks / "10-x.py", script("x") + VETO)
    code = textwrap.dedent(body)
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_nothing_imported_or_armed_when_not_enabled(tmp_path: Path) -> None:
    """A host that neither registers metrics nor sets a tracer provider imports neither
    library and its points stay unarmed (no observer on the call path)."""
    found = run_host(
        tmp_path,
        """
        import json, sys
        import hookyard
        engine = hookyard.HookEngine("hooks")
        @engine.hook("p", result="replace")
        def p(n):
            return "host"
        with engine:
            p(1)
        print(json.dumps({
            "imported": sorted(m for m in sys.modules
                               if m.startswith(("prometheus_client", "opentelemetry"))),
            "armed": engine._points["p"].observer is not None,
        }))
        """,
    )
    assert found == {"imported": [], "armed": False}


def test_opentelemetry_imported_without_a_provider_arms_nothing(tmp_path: Path) -> None:
    """A host that imports OpenTelemetry but sets no tracer provider gets no spans and
    unarmed points."""
    found = run_host(
        tmp_path,
        """
        import json
        import opentelemetry.trace
        import hookyard
        engine = hookyard.HookEngine("hooks")
        @engine.hook("p", result="replace")
        def p(n):
            return "host"
        p(1)
        print(json.dumps(engine._points["p"].observer is not None))
        """,
    )
    assert found is False


TRACED_HOST = """
import json, sys
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
import hookyard

exporter = InMemorySpanExporter()
provider = TracerProvider()
provider.add_span_processor(SimpleSpanProcessor(exporter))
trace.set_tracer_provider(provider)

engine = hookyard.HookEngine("hooks", isolation=sys.argv[1])

@engine.hook("p", result="replace", veto=True)
def p(n):
    return "host"

@engine.hook("quiet")
def quiet():
    return "no scripts here"

tracer = trace.get_tracer("host")
with tracer.start_as_current_span("request"):
    p(1)
    quiet()
    try:
        p(-1)
    except hookyard.HookVetoed:
        pass
engine.close()
spans = [
    {
        "name": s.name,
        "parent": s.parent.span_id if s.parent else None,
        "id": s.context.span_id,
        "attributes": dict(s.attributes),
        "events": [{"name": e.name, **dict(e.attributes)} for e in s.events],
        "start": s.start_time,
        "end": s.end_time,
    }
    for s in exporter.get_finished_spans()
]
print(json.dumps(spans))
"""


@pytest.mark.parametrize("isolation", ["inline", "process"])
def test_a_span_per_hooked_call_with_an_event_per_script(tmp_path: Path, isolation: str) -> None:
    """With a tracer provider set, each hooked call that ran scripts gets a span, a child
    of the host's current span, with one event per script function; a call that ran no
    script gets none."""
    spans = run_host(tmp_path, TRACED_HOST.replace("sys.argv[1]", repr(isolation)))
    [request] = [s for s in spans if s["name"] == "request"]
    hooks = [s for s in spans if s["name"] == "hookyard p"]
    assert len(hooks) == 2 and len(spans) == 3
    assert all(s["parent"] == request["id"] for s in hooks)
    first, vetoed = sorted(hooks, key=lambda s: s["start"])
    assert first["attributes"] == {"hookyard.point": "p"}
    assert [(e["name"], e["hookyard.outcome"]) for e in first["events"]] == [
        ("pre 10-x.py", "ok"),
        ("post 10-x.py", "replaced"),
    ]
    assert first["events"][0]["hookyard.version"] == version_of(script("x") + VETO)
    assert [(e["name"], e["hookyard.outcome"]) for e in vetoed["events"]] == [
        ("pre 10-x.py", "veto"),
        ("post 10-x.py", "skipped"),
    ]
    assert vetoed["attributes"]["hookyard.vetoed"] is True
    assert all(s["start"] <= s["end"] for s in hooks)


def test_fingerprint_rides_load_events(tmp_path: Path) -> None:
    """Load events of the audit trail carry the fingerprint the load led to (the JSON
    lines file too: the first load when the engine was made, then the edit's)."""
    root = tmp_path / "hooks"
    (root / "p").mkdir(parents=True)
    write_inplace(root / "p" / "10-x.py", script("x"))
    engine = hookyard.HookEngine(root, audit_log=tmp_path / "audit.jsonl")
    events: list[Any] = []
    engine.add_audit_listener(events.append)
    reloads = Events(engine)
    try:
        with engine:
            write_inplace(root / "p" / "10-x.py", script("y"))
            reloads.loaded(script("y"))
        [load] = [e for e in events if e.phase == "load"]
        assert load.fingerprint == engine.fingerprint()
        lines = [json.loads(line) for line in (tmp_path / "audit.jsonl").read_text().splitlines()]
        first, edit = [line["fingerprint"] for line in lines if line["phase"] == "load"]
        assert edit == engine.fingerprint() != first
    finally:
        engine.close()
