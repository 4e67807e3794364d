"""The one LRU cache (API responses and frames, the app's series and previews)."""

from __future__ import annotations

import threading
import time

from labflow.caching import LruCache


def test_the_least_recently_used_entry_goes_first_by_count_and_by_weight():
    cache = LruCache(2)
    cache.put("a", 1)
    cache.put("b", 2)
    assert cache.find("a") == 1  # "b" is now the least recently used
    cache.put("c", 3)
    assert (cache.find("a"), cache.find("b"), cache.find("c")) == (1, None, 3)
    heavy = LruCache(10, max_weight=10, weigh=len)
    heavy.put("x", "123456")
    heavy.put("y", "12345")
    assert heavy.find("x") is None and heavy.find("y") == "12345"
    heavy.put("z", "x" * 11)  # heavier than the whole budget: not kept
    assert heavy.find("z") is None and heavy.find("y") == "12345"


def test_concurrent_misses_compute_once():
    cache, calls = LruCache(4), []

    def slow() -> str:
        calls.append(1)
        time.sleep(0.05)
        return "value"

    results = []
    threads = [threading.Thread(target=lambda: results.append(cache.get("k", slow))) for _ in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == ["value"] * 5 and len(calls) == 1
