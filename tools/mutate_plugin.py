"""The pytest side of `tools/mutate.py`, loaded with `-p tools.mutate_plugin`; inert unless its variables are
set.

MUTATE_MODULE=reconciler.core.x with MUTATE_MUTANT=k: module x is compiled from its k-th mutant instead of its
file (the working tree is never written, so an interrupted run leaves nothing behind). With
MUTATE_TRACE=out.json instead: record, per test, which lines of the module ran, and how long the test took,
for the runner to pick the tests worth running against a mutant on a given line.
"""

from __future__ import annotations

import importlib.abc
import importlib.util
import json
import os
import sys
import threading
import time
from collections.abc import Callable, Generator, Sequence
from pathlib import Path
from types import CodeType, FrameType, ModuleType
from typing import Any

import pytest

IMPORT = "<import>"  # lines that ran while modules were imported (module level), not inside a test
# the exit status of a child whose mutant could not be served: the runner stops, it is no kill
NOT_SERVED = 70


class MutantNotServed(RuntimeError):
    """The module was imported before its mutant could replace it: the tests would run the unmutated code."""


class _MutantFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Serves one module from a code object instead of its file."""

    def __init__(self, name: str, path: Path, code: CodeType) -> None:
        self.name, self.path, self.code = name, path, code

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname != self.name:
            return None
        return importlib.util.spec_from_file_location(fullname, self.path, loader=self)

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> None:
        return None

    def exec_module(self, module: ModuleType) -> None:
        exec(self.code, module.__dict__)


def _install_mutant(name: str, index: int) -> None:
    from tools.mutants import module_path, mutant_code

    if name in sys.modules:
        raise MutantNotServed(f"{name} was imported before the mutant could replace it")
    path = module_path(name)
    sys.meta_path.insert(0, _MutantFinder(name, path, mutant_code(path, index)))


class _Tracer:
    """Lines of one file run per test: a settrace tracer that only follows frames of that file."""

    def __init__(self, filename: str) -> None:
        self.filename = filename
        self.current = IMPORT
        self.lines: dict[str, set[int]] = {IMPORT: set()}
        self.seconds: dict[str, float] = {}

    def _global(self, frame: FrameType, event: str, arg: Any) -> Callable[..., Any] | None:
        if frame.f_code.co_filename != self.filename:
            return None
        self.lines.setdefault(self.current, set()).add(frame.f_lineno)
        return self._local

    def _local(self, frame: FrameType, event: str, arg: Any) -> Callable[..., Any] | None:
        if event == "line":
            self.lines.setdefault(self.current, set()).add(frame.f_lineno)
        return self._local

    def start(self) -> None:
        threading.settrace(self._global)
        sys.settrace(self._global)


class MutatePlugin:
    def __init__(self, tracer: _Tracer | None, out: Path | None) -> None:
        self.tracer, self.out = tracer, out

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_protocol(self, item: pytest.Item, nextitem: pytest.Item | None) -> Generator[None]:
        if self.tracer is None:
            yield
            return
        self.tracer.current = item.nodeid
        # Hypothesis installs its own tracer while it explains a failure; ours must be back for the next test.
        sys.settrace(self.tracer._global)
        started = time.perf_counter()
        yield
        self.tracer.seconds[item.nodeid] = time.perf_counter() - started
        self.tracer.current = IMPORT

    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        if self.tracer is None or self.out is None:
            return
        sys.settrace(None)
        data = {
            "exitstatus": int(exitstatus),
            "lines": {k: sorted(v) for k, v in self.tracer.lines.items()},
            "seconds": self.tracer.seconds,
        }
        self.out.write_text(json.dumps(data))


@pytest.hookimpl(tryfirst=True)
def pytest_load_initial_conftests(early_config: pytest.Config) -> None:
    """Before any conftest: the conftests of the tests' folders (tests/execution/conftest.py and those that
    reuse it) import core modules, and a module imported before the mutant is served is the unmutated one.
    Every mutant of fees, models, numbers and rules would then fail on that, and count as killed, whenever one
    of its tests lived there; and the trace would miss their module-level lines."""
    name = os.environ.get("MUTATE_MODULE")
    if not name:
        return
    trace = os.environ.get("MUTATE_TRACE")
    tracer = None
    if trace:
        from tools.mutants import module_path

        tracer = _Tracer(str(module_path(name)))
        tracer.start()
    else:
        _install_mutant(name, int(os.environ["MUTATE_MUTANT"]))
    early_config.pluginmanager.register(MutatePlugin(tracer, Path(trace) if trace else None), "mutate-plugin")
