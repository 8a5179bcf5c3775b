"""What process isolation checks on the machine: inherited limits and confinement layers.

The host side of issue 13's checks: whether the hard limits this process inherited leave
a worker room to run (``check_inherited_cpu``, ``inherited_memory_note``), what a worker
reports about its kernel confinement (``layers``: parsed like anything a worker says),
and ``hookyard sandbox-check``'s table (``sandbox_table``).
"""

from __future__ import annotations

import resource
from dataclasses import dataclass
from typing import Any

from ._confine import LAYERS
from ._wire import ProtocolError
from .errors import HookError

__all__ = ["Layer", "check_inherited_cpu", "inherited_memory_note", "layers", "sandbox_table"]

_TEXT_LIMIT = 64 * 1024  # characters of a reason taken from a worker


def check_inherited_cpu(cpu_floor: int) -> None:
    """Refuse to make workers that could not give one request its CPU time (issue 13).

    A worker inherits the host's hard RLIMIT_CPU (``ulimit -t``, systemd ``LimitCPU=``, a
    container's rlimits) and can never raise it; the window it opens for a request is
    ``2 * cpu_floor`` seconds, plus about a second to start.
    """
    hard = resource.getrlimit(resource.RLIMIT_CPU)[1]
    need = 2 * cpu_floor + 1
    if hard != resource.RLIM_INFINITY and hard < need:
        raise HookError(
            f"process isolation cannot honour its limits here: this process's hard CPU "
            f"limit is {hard} s (ulimit -t, systemd LimitCPU=, the container's rlimits) and "
            f"workers inherit it, but a worker needs at least {need} s to give one call "
            f"Limits.seconds + ProcessIsolation.grace (+2 s) of CPU time; raise that limit "
            f"or lower Limits.seconds / ProcessIsolation.grace"
        )


def inherited_memory_note(memory: int) -> str:
    """Why a worker may not even start: the address space it inherited."""
    hard = resource.getrlimit(resource.RLIMIT_AS)[1]
    if hard == resource.RLIM_INFINITY:
        return ""
    return (
        f" (this process's hard address-space limit, which workers inherit and cannot "
        f"raise, is {hard:,} bytes: ulimit -v, systemd LimitAS=; ProcessIsolation.memory "
        f"asks for {memory:,})"
    )


@dataclass(frozen=True, slots=True)
class Layer:
    """One confinement layer of a worker: applied or not, why, and its proofs.

    ``proofs`` (``hookyard sandbox-check`` only): (call tried, outcome, refused) for each
    forbidden call made from unrestricted code inside the worker once the layer was on.
    """

    name: str
    active: bool
    detail: str
    proofs: tuple[tuple[str, str, bool], ...] = ()

    @property
    def proven(self) -> bool:
        """Active, and every forbidden call after it was applied was refused."""
        calls = [proof for proof in self.proofs if not proof[0].startswith("before:")]
        return self.active and bool(calls) and all(refused for _, _, refused in calls)


def layers(report: Any) -> list[Layer]:
    """The worker's ready report as Layers (it is parsed like anything a worker says)."""
    if type(report) is not dict:
        raise ProtocolError("a confinement report is a dict")
    layers = []
    for name in LAYERS:
        entry = report.get(name, [False, "not applied (confine='off')"])
        if (
            type(entry) is not list
            or len(entry) not in (2, 3)
            or type(entry[0]) is not bool
            or type(entry[1]) is not str
        ):
            raise ProtocolError(f"a malformed report for {name}")
        proofs = []
        for proof in entry[2] if len(entry) == 3 and type(entry[2]) is list else ():
            if type(proof) is not list or len(proof) != 3:
                raise ProtocolError("a malformed proof")
            what, outcome, refused = proof
            if type(what) is not str or type(outcome) is not str or type(refused) is not bool:
                raise ProtocolError("a malformed proof")
            proofs.append((what[:200], outcome[:200], refused))
        layers.append(Layer(name, entry[0], entry[1][:_TEXT_LIMIT], tuple(proofs)))
    return layers


def sandbox_table(layers: list[Layer], *, require: bool) -> tuple[str, bool]:
    """``hookyard sandbox-check``'s table, and whether the check passed.

    It fails when a layer says it is active but a forbidden call got through, and, with
    ``require``, when a layer is missing.
    """
    rows = [("layer", "active", "proof")]
    ok = True
    for layer in layers:
        if layer.proven:
            active = "yes"
        elif layer.active:
            active = "FAILED"  # applied, yet a forbidden call got through
            ok = False
        else:
            active = "no"
            ok = ok and not require
        proofs = [f"{what}: {outcome}" for what, outcome, _ in layer.proofs]
        rows.append((layer.name, active, layer.detail))
        rows.extend(("", "", f"  {line}") for line in proofs)
    width = [max(len(row[i]) for row in rows) for i in range(2)]
    lines = [f"{a:<{width[0]}}  {b:<{width[1]}}  {c}".rstrip() for a, b, c in rows]
    missing = [layer.name for layer in layers if not layer.active]
    if missing:
        lines.append(
            f"this machine lacks: {', '.join(missing)} (see the reasons above); workers run "
            "with the other layers (confine='auto') or refuse to start (confine='require')"
        )
    else:
        lines.append("every layer is active and refused its forbidden calls")
    return "\n".join(lines), ok
