"""journal.per_key.PerKey, the one registry behind the lease keeper of a journal and the advisory session of
an engine: one object per key whatever the threads, and none kept once the key is gone."""

from __future__ import annotations

import gc
import threading

from reconciler.journal.per_key import PerKey


class _Key:
    """A key that can be referenced weakly (as a Journal or an Engine)."""


def test_threads_asking_at_once_get_one_object() -> None:
    made: list[_Key] = []
    registry: PerKey[_Key, object] = PerKey(lambda key: made.append(key) or object())
    key, start = _Key(), threading.Barrier(8)
    got: list[object] = []

    def ask() -> None:
        start.wait()
        got.append(registry.get(key))

    threads = [threading.Thread(target=ask) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(made) == 1
    assert len({id(v) for v in got}) == 1


def test_each_key_gets_its_own_object() -> None:
    registry: PerKey[_Key, object] = PerKey(lambda key: object())
    assert registry.get(_Key()) is not registry.get(_Key())


def test_an_object_goes_with_its_key() -> None:
    registry: PerKey[_Key, object] = PerKey(lambda key: object())
    key = _Key()
    registry.get(key)
    del key
    gc.collect()
    assert len(registry._made) == 0
