"""The pytest plugin installed with hookyard (entry point ``pytest11``): ``hook_harness``.

```python
def test_validate(hook_harness):
    harness = hook_harness({"create/10-validate.py": VALIDATE})
    call = harness.point("create", veto=True)("db_primary", "m1.small")
    assert call.vetoed
```

Each harness the fixture makes is closed after the test, its temporary directory removed.
Loaded by pytest only: ``import hookyard`` never imports pytest.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from .testing import Harness, from_directory, from_sources

__all__ = ["hook_harness"]


@pytest.fixture
def hook_harness() -> Iterator[Callable[..., Harness]]:
    """``hook_harness(scripts, **options)``: a ``hookyard.testing.Harness`` over
    ``{"point/10-name.py": source}`` (written to a temporary directory) or over an existing
    hook directory, with ``from_sources``/``from_directory``'s options (``api=``,
    ``modules=``, ``limits=``, ``isolation=``...). Closed after the test."""
    made: list[Harness] = []

    def make(scripts: Mapping[str, str] | str | Path, /, **options: Any) -> Harness:
        if isinstance(scripts, Mapping):
            harness = from_sources(scripts, **options)
        else:
            harness = from_directory(scripts, **options)
        made.append(harness)
        return harness

    yield make
    for harness in made:
        harness.close()
