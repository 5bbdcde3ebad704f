"""The background sync's turns, on a fake sync (the real one runs in test_sync_cli.py through `kbqa serve`)."""

from __future__ import annotations

import threading
import time
from typing import Any

from rag import BackgroundSync
from rag.errors import IndexBusyError, SyncCancelledError


def test_a_busy_turn_is_skipped_and_stop_cancels_a_running_sync() -> None:
    calls: list[str] = []
    running = threading.Event()

    def sync(cancel: threading.Event) -> list[Any]:
        calls.append("call")
        if len(calls) == 1:
            raise IndexBusyError("a re-index runs")  # skipped: the next turn tries again
        if len(calls) == 2:
            return []
        running.set()
        cancel.wait(10)  # a long sync, stopped by stop()
        raise SyncCancelledError("cancelled")

    background = BackgroundSync(sync, every_s=0.05).start()
    assert running.wait(5)
    started = time.monotonic()
    background.stop()
    assert time.monotonic() - started < 5  # stop() cancelled the sync instead of waiting 10 s
    assert background.runs == 1 and len(calls) == 3
