"""Something done now and then every few seconds in a background thread while a ``with``
block runs (a heartbeat, a progress bar read from a store): one place for the thread,
its stop, and the rule that a failed attempt is retried at the next one."""

from __future__ import annotations

import threading
from types import TracebackType


class Periodic:
    """Calls :meth:`tick` on entry and every ``interval_s`` seconds until the ``with``
    block ends, then :meth:`finish` (told whether the block raised). Subclasses
    override ``tick`` and, where something must happen at the end, ``finish``."""

    def __init__(self, interval_s: float, name: str) -> None:
        self._interval = interval_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=name, daemon=True)

    def tick(self) -> None:
        raise NotImplementedError

    def finish(self, raised: bool) -> None:
        """What to do once the thread has stopped (nothing by default)."""

    def _loop(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                self.tick()
            except Exception:  # noqa: BLE001 - a missed attempt is retried at the next one
                continue

    def __enter__(self):  # noqa: ANN204 - the subclass itself
        self.tick()
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stop.set()
        self._thread.join()
        self.finish(exc_type is not None)
