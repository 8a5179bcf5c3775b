"""The ``json`` facade: ``dumps`` charges its output (indent and separators included)
before it is built, ``loads`` its text; both take the standard keyword arguments, and
report wrong ones against their public names (issue 18, item 9)."""

from __future__ import annotations

import json
from typing import Any

from .._budget import current_budget
from ._common import Output, public

__all__ = ["json_facade"]


# -- json ---------------------------------------------------------------------------------
_JSON_LEAF = 24  # a float, true/false/null or a small int, written out


def _json_size(
    obj: Any, *, indent: int, item_separator: int, key_separator: int, ascii: bool, limit: int
) -> tuple[int, int]:
    """(characters ``json.dumps`` may write for ``obj``, deepest nesting), an upper bound
    computed without building it; stops once past ``limit``. Shared values count every
    time they are reached (the encoder writes them out each time)."""
    per_char = 6 if ascii else 2  # "\\uXXXX" for each character, or a two-character escape
    total = 0
    deepest = 0
    active: set[int] = set()
    stack: list[tuple[Any, int, bool]] = [(obj, 0, False)]
    while stack and total <= limit:
        ob, depth, leaving = stack.pop()
        if leaving:
            active.discard(id(ob))
            continue
        cls = type(ob)
        if isinstance(ob, str):
            total += len(ob) * per_char + 2
        elif cls is int or isinstance(ob, int):
            total += int(ob).bit_length() // 3 + 2
        elif isinstance(ob, dict | list | tuple):
            if id(ob) in active:
                continue  # a cycle: json refuses it ("Circular reference detected")
            deepest = max(deepest, depth + 1)
            active.add(id(ob))
            stack.append((ob, depth, True))
            n = len(ob)
            # brackets, one separator per item, and (indented) a line per item
            total += 2 + n * (item_separator + (indent * (depth + 1) + 1 if indent else 0))
            if isinstance(ob, dict):
                total += n * key_separator
                for key, value in dict.items(ob):
                    stack.append((key, depth + 1, False))
                    stack.append((value, depth + 1, False))
            else:
                stack.extend((item, depth + 1, False) for item in ob)
        else:
            total += _JSON_LEAF
    return total, deepest


def _indent_width(indent: Any) -> int:
    if indent is None:
        return 0
    if isinstance(indent, int):
        return max(indent, 0)
    if isinstance(indent, str):
        return len(indent)
    raise TypeError(f"json.dumps: indent must be an int or a str, not {type(indent).__name__}")


@public("json.dumps")
def json_dumps(
    obj: Any,
    *,
    skipkeys: bool = False,
    ensure_ascii: bool = True,
    check_circular: bool = True,
    allow_nan: bool = True,
    cls: Any = None,
    indent: Any = None,
    separators: Any = None,
    default: Any = None,
    sort_keys: bool = False,
) -> str:
    """``json.dumps``; its output size (indent and separators included) is charged before
    it is built. ``default`` is called (under the budget, like any script function) for
    values json cannot encode; what it returns is charged as it comes."""
    if cls is not None:
        raise TypeError("json.dumps: cls= is not available to scripts (use default=)")
    if default is not None and not callable(default):
        raise TypeError("json.dumps: default must be callable")
    budget = current_budget()
    limit = budget.limits.size
    width = _indent_width(indent)
    if separators is None:
        item_sep, key_sep = (", " if indent is None else ","), ": "
    else:
        item_sep, key_sep = separators
        if not isinstance(item_sep, str) or not isinstance(key_sep, str):
            raise TypeError("json.dumps: separators must be a pair of str")
    measure = dict(
        indent=width,
        item_separator=len(item_sep),
        key_separator=len(key_sep),
        ascii=bool(ensure_ascii),
        limit=limit,
    )
    size, deepest = _json_size(obj, **measure)  # type: ignore[arg-type]
    output = Output("json text", budget)
    output.add(size)
    hook = None
    if default is not None:

        def hook(value: Any) -> Any:
            result = default(value)
            # it may land at the deepest level of the value: measured from there
            more, _ = _json_size(result, **measure)  # type: ignore[arg-type]
            output.add(more + deepest * width)
            return result

    return json.dumps(
        obj,
        skipkeys=skipkeys,
        ensure_ascii=ensure_ascii,
        check_circular=True,  # never off: a cycle would recurse in C
        allow_nan=allow_nan,
        indent=indent,
        separators=(item_sep, key_sep),
        default=hook,
        sort_keys=sort_keys,
    )


@public("json.loads")
def json_loads(
    s: Any,
    *,
    cls: Any = None,
    object_hook: Any = None,
    parse_float: Any = None,
    parse_int: Any = None,
    parse_constant: Any = None,
    object_pairs_hook: Any = None,
    strict: bool = True,
) -> Any:
    """``json.loads``; the text is charged by its length (the value built is at most a few
    objects per character). The hooks are called like any script function."""
    if cls is not None:
        raise TypeError("json.loads: cls= is not available to scripts")
    if not isinstance(s, str | bytes | bytearray):
        raise TypeError(f"json.loads: the JSON object must be str or bytes, not {type(s).__name__}")
    current_budget().charge_size(len(s), "json text")
    return json.loads(
        s,
        object_hook=object_hook,
        parse_float=parse_float,
        parse_int=parse_int,
        parse_constant=parse_constant,
        object_pairs_hook=object_pairs_hook,
        strict=strict,
    )


def json_facade() -> dict[str, Any]:
    return {"dumps": json_dumps, "loads": json_loads, "JSONDecodeError": json.JSONDecodeError}
