"""Runs a killed stage left RUNNING: each stage tags the run it opens with its process
(`TAG_PROCESS`), and the next stage that opens a run in the experiment marks KILLED those whose
process is gone (a SIGKILL or the OOM killer gives a process no chance to end its own run)."""

from __future__ import annotations

import logging
import os
import socket

TAG_PROCESS = "classlens.process"  # "host pid-namespace pid" of the stage that has the run open

log = logging.getLogger(__name__)


def this_process() -> str:
    """`host pid-namespace pid` of this stage: a process id means something only on the same
    host in the same PID namespace (containers share host names)."""
    try:
        namespace = os.readlink("/proc/self/ns/pid")
    except OSError:
        namespace = "-"
    return f"{socket.gethostname()} {namespace} {os.getpid()}"


def end_abandoned_runs(experiment: str) -> None:
    """Mark KILLED the experiment's runs still RUNNING whose stage process (tag `TAG_PROCESS`)
    is gone from this host and PID namespace: a stage killed with SIGKILL (or the OOM killer)
    cannot end its own run. POSIX only (elsewhere `os.kill(pid, 0)` is not a probe)."""
    from mlflow import MlflowClient

    if os.name != "posix":
        return
    client = MlflowClient()
    here, _, _ = this_process().rpartition(" ")
    for run in client.search_runs([experiment], filter_string="attributes.status = 'RUNNING'",
                                  max_results=200):
        owner, _, pid = run.data.tags.get(TAG_PROCESS, "").rpartition(" ")
        if owner != here or not pid.isdigit() or int(pid) == os.getpid():
            continue
        try:
            os.kill(int(pid), 0)  # signal 0: only asks whether the process exists
        except ProcessLookupError:
            client.set_terminated(run.info.run_id, status="KILLED")
            log.warning("marked MLflow run %s KILLED: the stage process %s that had it open is "
                        "gone", run.info.run_id, pid)
        except PermissionError:  # another user's process: alive
            pass
