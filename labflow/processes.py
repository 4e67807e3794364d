"""Whether a process that was started at a known moment is still running on this machine."""

from __future__ import annotations

import os
from pathlib import Path

_PROC = Path("/proc")


def process_start_time(pid: int) -> float | None:
    """When process ``pid`` started (epoch seconds), ``None`` if there is no such process.

    Read from ``/proc`` on Linux; elsewhere only the existence is known and ``0.0`` is returned for a
    running process.
    """
    if not _PROC.is_dir():
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return None
        except PermissionError:
            return 0.0
        return 0.0
    try:
        stat = (_PROC / str(pid) / "stat").read_text()
        boot = next(line for line in (_PROC / "stat").read_text().splitlines() if line.startswith("btime "))
    except (FileNotFoundError, ProcessLookupError, StopIteration):
        return None
    fields = stat.rsplit(")", 1)[1].split()  # the name in parentheses may hold spaces
    if fields[0] in ("Z", "X"):  # a zombie has exited; only its exit code is left
        return None
    ticks = int(fields[19])  # field 22 of proc(5): start time in clock ticks after boot
    return int(boot.split()[1]) + ticks / os.sysconf("SC_CLK_TCK")


def is_running_since(pid: int, started_by: float, slack_s: float = 2.0) -> bool:
    """Whether the process ``pid`` that existed at ``started_by`` (epoch seconds) is still running.

    A process with the same pid started later is another process (pids are reused), so ``False``.
    """
    started = process_start_time(pid)
    return started is not None and started <= started_by + slack_s
