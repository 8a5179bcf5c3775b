"""Build hook: compile the optional C copier ``hookyard._ccopy`` (issue 17, figure C).

Where the interpreter's C compiler and headers are found (``sysconfig``: the compiler
CPython itself was built with), ``src/hookyard/_ccopy.c`` is compiled into an extension
module for this interpreter. Where they are not, or the compile fails, the build goes on
without it and prints why: ``hookyard._copy`` then runs its pure-Python copier, with the
same behaviour. ``HOOKYARD_PURE_PYTHON=1`` skips the compile.

- an editable install (the README's commands) puts the module next to the sources,
  ``src/hookyard/_ccopy.cpython-3XX-....so`` (one per interpreter, git-ignored);
- a wheel carries it and is tagged for this interpreter and platform.
"""

from __future__ import annotations

import hashlib
import os
import shlex
import shutil
import subprocess
import sys
import sysconfig
import tempfile
from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

SOURCE = Path("src/hookyard/_ccopy.c")
MODULE = "_ccopy"


def compile_command(source: Path, target: Path) -> list[str] | str:
    """The compiler command line, or why there is none."""
    if sys.implementation.name != "cpython":
        return f"not CPython ({sys.implementation.name})"
    ldshared = sysconfig.get_config_var("LDSHARED")
    include = sysconfig.get_paths().get("include")
    if not ldshared:
        return "this interpreter names no C compiler (sysconfig LDSHARED)"
    if not include or not Path(include, "Python.h").is_file():
        return f"no Python.h in {include} (install the Python development headers)"
    # CC and LDSHARED from the environment win, as with setuptools: CC replaces the
    # compiler at the head of the interpreter's LDSHARED, LDSHARED the whole line
    compiler = sysconfig.get_config_var("CC") or ""
    if "CC" in os.environ and compiler and ldshared.startswith(compiler):
        ldshared = os.environ["CC"] + ldshared[len(compiler) :]
    command = shlex.split(os.environ.get("LDSHARED", ldshared))
    if not command:
        return "LDSHARED is empty"
    if shutil.which(command[0]) is None:
        return f"no C compiler {command[0]!r} on PATH"
    flags = shlex.split(sysconfig.get_config_var("CCSHARED") or "")
    # the source's hash, compiled in: hookyard._copy refuses a build of other source
    digest = hashlib.sha256(source.read_bytes()).hexdigest()
    return [
        *command,
        *flags,
        "-O2",
        "-std=c99",
        f'-DCCOPY_SOURCE="{digest}"',
        f"-I{include}",
        str(source),
        "-o",
        str(target),
    ]


class CopierBuildHook(BuildHookInterface):
    PLUGIN_NAME = "custom"

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        if os.environ.get("HOOKYARD_PURE_PYTHON", "") not in ("", "0"):
            self.app.display_info("hookyard: HOOKYARD_PURE_PYTHON set: pure-Python copier")
            return
        root = Path(self.root)
        suffix = sysconfig.get_config_var("EXT_SUFFIX") or ".so"
        name = MODULE + suffix
        if version == "editable":
            target = root / "src" / "hookyard" / name
        else:
            target = Path(tempfile.mkdtemp(prefix="hookyard-build-")) / name
        command = compile_command(root / SOURCE, target)
        if isinstance(command, str):
            self.app.display_warning(f"hookyard: C copier not built ({command}); pure Python")
            return
        try:
            subprocess.run(command, check=True, capture_output=True, text=True, timeout=300)
        except (OSError, subprocess.SubprocessError) as exc:
            detail = getattr(exc, "stderr", None) or str(exc)
            self.app.display_warning(f"hookyard: C copier not built; pure Python:\n{detail}")
            return
        if version != "editable":
            build_data["force_include"][str(target)] = f"hookyard/{name}"
        build_data["pure_python"] = False
        build_data["infer_tag"] = True
