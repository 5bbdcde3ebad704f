"""`kbqa serve --sync-every 30m`: the sources synced in the background, one sync at a time."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from typing import Any

from rag.errors import IndexBusyError, KbqaError

_LOG = logging.getLogger(__name__)


class BackgroundSync:
    """Calls ``sync(cancel=event)`` every ``every_s`` seconds in a daemon thread; ``stop()`` cancels a sync in
    progress (what was live stays live) and ends the thread. A sync still running when the next is due (or one
    started from the web app) makes that turn skip, not queue."""

    def __init__(self, sync: Callable[..., Sequence[Any]], every_s: float) -> None:
        self._sync, self.every_s = sync, every_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="kbqa-sync", daemon=True)
        self.runs = 0

    def start(self) -> BackgroundSync:
        self._thread.start()
        return self

    def stop(self, timeout: float = 30) -> None:
        self._stop.set()
        self._thread.join(timeout)

    def _run(self) -> None:
        while not self._stop.wait(self.every_s):
            try:
                reports = self._sync(cancel=self._stop)
            except IndexBusyError:
                _LOG.info("Background sync skipped: another sync or re-index is running")
                continue
            except KbqaError as exc:  # e.g. cancelled by stop(): the next turn (if any) tries again
                _LOG.warning("Background sync stopped: %s", exc)
                continue
            self.runs += 1
            for r in reports:
                if r.ok:
                    _LOG.info(
                        "Synced %s: %d new, %d changed, %d removed",
                        r.name,
                        len(r.added),
                        len(r.changed),
                        len(r.removed),
                    )
                for problem in r.errors:
                    _LOG.warning("Sync of %s: %s", r.name, problem)
