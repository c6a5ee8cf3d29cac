"""Whether a process of this machine still exists (the reaper of vanished runs, the
report writer's clean-up of a killed write's temporary file)."""

from __future__ import annotations

import os


def pid_alive(pid: int) -> bool:
    """Whether process ``pid`` exists on this machine (another user's counts)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # it exists: another user's
        return True
    return True
