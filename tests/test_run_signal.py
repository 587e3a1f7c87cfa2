"""`brandpulse run` runs until stopped, and Ctrl-C (SIGINT) or SIGTERM stops it cleanly."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.cli_helpers import write_config, x_post

POSTS = [x_post(1, "Acme Air lost my bag, awful service", handle="sam", minutes=1)]


def _start(config: Path) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if k not in ("BRANDPULSE_DATABASE_URL", "BRANDPULSE_CONFIG")}
    return subprocess.Popen(
        [sys.executable, "-m", "brandpulse", "--config", str(config), "run"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, cwd=config.parent,
    )


def _wait_for_first_poll(config: Path, timeout: float = 30.0) -> None:
    """Wait (bounded) until the first poll has committed its mention."""
    from sqlalchemy import func, select

    from brandpulse.db.models import MentionRow
    from tests.cli_helpers import db

    Session = db(config)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with Session() as s:
                if s.scalar(select(func.count()).select_from(MentionRow)):
                    return
        except Exception:  # the schema may not exist yet
            pass
        time.sleep(0.05)
    raise AssertionError("the first poll did not commit within the timeout")


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_run_stops_cleanly_on_a_signal(tmp_path, sig):
    config = write_config(tmp_path, POSTS)
    proc = _start(config)
    try:
        banner = proc.stdout.readline()  # blocks until the scheduler has started
        assert "brandpulse is listening on 1 source(s): replay" in banner, banner
        _wait_for_first_poll(config)
        proc.send_signal(sig)
        out, _ = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, out
    assert "stopping: waiting for running polls to finish" in out
    assert "1 mentions stored" in out  # the first poll ran and was committed
    assert "Traceback" not in out
