"""Test helper run as a subprocess: train, and kill or signal this process at a chosen point.

    python killer.py SPEC_JSON

SPEC: {"config": path, "resume": run folder or null, "cli": bool,
       "kill": {"at": "log", "epoch": e, "batch": b, "signal": "SIGKILL", "times": 1, "occurrence": 1}
             | {"at": "checkpoint", "step": s} | {"at": "replace", "n": n} | null}

Killing is deterministic (at a given batch, checkpoint or file rename), never timed by a sleep.
It lives here, in the tests, so production code carries no test hooks.
"""

from __future__ import annotations

import json
import os
import signal
import sys

spec = json.loads(sys.argv[1])
kill = spec.get("kill") or {}


def fire() -> None:
    for _ in range(kill.get("times", 1)):
        os.kill(os.getpid(), getattr(signal, kill.get("signal", "SIGKILL")))


seen = [0]  # how often the kill's (epoch, batch) came: occurrence 2 is train.refit's second fit


def on_log(logs) -> None:
    if kill.get("at") == "log" and (logs["epoch"], logs["batch"]) == (kill["epoch"], kill["batch"]):
        seen[0] += 1
        if seen[0] == kill.get("occurrence", 1):
            fire()


def on_checkpoint(logs) -> None:
    if kill.get("at") == "checkpoint" and logs["step"] == kill["step"]:
        fire()


if kill.get("at") == "replace":  # die between the temp write and the rename of the n-th checkpoint
    real_replace, calls = os.replace, [0]

    def replace(src, dst, **kw):
        if str(dst).endswith(".pt"):
            calls[0] += 1
            if calls[0] == kill["n"]:
                fire()
        return real_replace(src, dst, **kw)

    os.replace = replace

# the progress display is a callback in every run, CLI included: hook the kill points onto it
from netfit.train.progress import Progress  # noqa: E402

Progress.on_log = lambda self, logs: on_log(logs)
Progress.on_checkpoint = lambda self, logs: on_checkpoint(logs)

if spec.get("cli"):
    from netfit.cli import main

    sys.argv = ["netfit", "train", spec["config"], "-q"] + (["--resume", spec["resume"]] if spec.get("resume") else [])
    main()
else:
    import netfit

    run = netfit.fit(spec["config"], resume=spec.get("resume"))
    print(run.path)
