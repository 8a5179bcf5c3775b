"""Clock facades: ``time`` (clock reads and formatting, no ``sleep``) and ``datetime``.

``time.sleep`` would hold the script's thread past its budget; ``tzset`` changes the
process's time zone (shared state): neither is offered. ``strftime``'s output is at most
256 times its format (CPython's own buffer limit) and is charged so; ``strptime`` parses
with the standard library's regular expressions, so its text and format are bounded.
"""

from __future__ import annotations

import _strptime  # type: ignore[import-not-found]  # imported here: C code importing it through a script's import fails
import datetime
import time
from typing import Any

from .._budget import current_budget
from ._common import public

__all__ = ["c_imports", "datetime_facade", "time_facade"]

_STRPTIME_LIMIT = 4096  # characters of text or format: dates are short


@public("time.strftime")
def strftime(format: Any, t: Any = None) -> str:
    if not isinstance(format, str):
        raise TypeError(f"time.strftime: format must be a str, not {type(format).__name__}")
    # CPython grows its buffer up to 256 times the format's length
    current_budget().charge_size(len(format) * 256, "time.strftime result")
    return time.strftime(format) if t is None else time.strftime(format, t)


@public("time.strptime")
def strptime(string: Any, format: Any = "%a %b %d %H:%M:%S %Y") -> time.struct_time:
    _check_strptime(string, format)
    return _strptime._strptime_time(string, format)  # type: ignore[no-any-return]


def _check_strptime(string: Any, format: Any) -> None:
    for value, what in ((string, "text"), (format, "format")):
        if not isinstance(value, str):
            raise TypeError(f"strptime: {what} must be a str, not {type(value).__name__}")
        if len(value) > _STRPTIME_LIMIT:
            raise current_budget().exhaust(
                "size",
                f"size limit: strptime {what} of {len(value):,} characters "
                f"(at most {_STRPTIME_LIMIT:,})",
            )
    current_budget().charge(len(string) + len(format))


def _strptime_datetime(cls: Any, string: Any, format: Any = "%a %b %d %H:%M:%S %Y") -> Any:
    _check_strptime(string, format)
    return _strptime._strptime_datetime(cls, string, format)


def c_imports() -> dict[str, Any]:
    """What the C code of offered types imports while a script calls it, by name:
    ``datetime.strftime`` imports ``time`` and ``datetime.strptime`` imports
    ``_strptime``, through the *script's* import function (the innermost Python frame
    is the script's). These are the bounded stand-ins to hand them."""
    return {
        "time": time_facade(),
        "_strptime": {"_strptime_datetime": _strptime_datetime},
    }


def time_facade() -> dict[str, Any]:
    plain = (
        "time", "time_ns", "monotonic", "monotonic_ns", "perf_counter", "perf_counter_ns",
        "process_time", "process_time_ns", "gmtime", "localtime", "mktime", "asctime",
        "ctime", "struct_time", "timezone", "altzone", "daylight", "tzname",
    )  # fmt: skip
    attributes: dict[str, Any] = {name: getattr(time, name) for name in plain}
    attributes.update(strftime=strftime, strptime=strptime)
    return attributes


def datetime_facade() -> dict[str, Any]:
    # immutable value types; tzinfo (to subclass) is not offered: a script-made time zone
    # would run script code wherever the host touches the value (issue 12)
    names = ("date", "datetime", "time", "timedelta", "timezone", "MINYEAR", "MAXYEAR", "UTC")
    return {name: getattr(datetime, name) for name in names}
