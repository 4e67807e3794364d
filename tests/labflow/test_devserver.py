"""Stopping a started service stops everything it started, including children that outlive it."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from labflow.devserver import stop_group

def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_a_child_that_ignores_sigterm_does_not_outlive_its_group(tmp_path: Path) -> None:
    pid_file = tmp_path / "child.pid"
    script = (
        "import subprocess, sys, time\n"
        "code = 'import os, signal, sys, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
        "open(sys.argv[1], \"w\").write(str(os.getpid())); time.sleep(300)'\n"
        f"subprocess.Popen([sys.executable, '-c', code, {str(pid_file)!r}])\n"
        "time.sleep(300)\n"
    )
    leader = subprocess.Popen([sys.executable, "-c", script], start_new_session=True)
    deadline = time.monotonic() + 30
    while not (pid_file.exists() and pid_file.read_text()) and time.monotonic() < deadline:
        time.sleep(0.05)
    child = int(pid_file.read_text())
    assert alive(child)

    stop_group(leader, timeout_s=5)

    assert leader.poll() is not None
    deadline = time.monotonic() + 5
    while alive(child) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not alive(child), "the child ignoring SIGTERM survived its group"
