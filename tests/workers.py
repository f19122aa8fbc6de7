"""Real Huey consumer processes for the crash tests: start one, kill it mid-work, start another."""
import os
import signal
import subprocess
import sys
import time

import pytest

from sendtex.db import db


def worker_env(instance):
    """The environment of a worker on this instance, with short leases so a dead worker's work is taken over fast."""
    env = dict(os.environ, SENDTEX_INSTANCE_PATH=str(instance), SENDTEX_JOB_LEASE_SECONDS="2",
               SENDTEX_IMPORT_CHUNK_ROWS="500")
    env.pop("SENDTEX_HUEY_IMMEDIATE", None)
    return env


def start_worker(instance, log, workers=1):
    """`sendtex worker` in its own process (its workers are child processes that die with it)."""
    command = [sys.executable, "-c", "from sendtex.cli import main; main()", "worker", "--workers", str(workers)]
    return subprocess.Popen(command, env=worker_env(instance), stdout=log, stderr=subprocess.STDOUT)


def wait_for(condition, timeout, what):
    """Poll the database until condition() holds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with db.connection_context():
            if condition():
                return
        time.sleep(0.02)
    pytest.fail(f"timed out waiting for {what}")


def kill_mid_work_then_finish(instance, log_path, started, check_killed, finished, workers=1):
    """Start a worker, SIGKILL it once started() holds, run check_killed(), then let a new worker finish."""
    with open(log_path, "wb") as log:
        first = start_worker(instance, log, workers)
        try:
            wait_for(started, 60, "the work to start")
            first.send_signal(signal.SIGKILL)
            first.wait(10)
            with db.connection_context():
                check_killed()
            second = start_worker(instance, log, workers)
            try:
                wait_for(finished, 120, "the work to finish after the restart")
            finally:
                second.terminate()
                second.wait(10)
        finally:
            if first.poll() is None:
                first.kill()
