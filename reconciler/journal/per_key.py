"""One object per live key in this process (a journal's lease keeper, an engine's advisory session): made on
first use under a mutex, so two threads never make two, and dropped with its key (a weak dictionary), so a
journal or an engine no one uses any more goes with what was made for it."""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable
from typing import Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")


class PerKey(Generic[K, V]):
    """The registry: `get(key)` answers the one value made for `key`, making it the first time."""

    def __init__(self, make: Callable[[K], V]) -> None:
        self._made: weakref.WeakKeyDictionary[K, V] = weakref.WeakKeyDictionary()
        self._mutex = threading.Lock()
        self._make = make

    def get(self, key: K) -> V:
        """The value of `key`, made now if this is the first call for it."""
        with self._mutex:
            found = self._made.get(key)
            if found is None:
                found = self._made[key] = self._make(key)
            return found
