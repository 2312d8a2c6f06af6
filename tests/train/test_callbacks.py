"""Callbacks: one flat base with no-op hooks; they run at epoch and log boundaries only."""

from __future__ import annotations

from pathlib import Path

import netfit
from netfit import Callback


class Recorder(Callback):
    def __init__(self):
        self.calls: list[tuple[str, dict]] = []

    def _record(self, hook, logs):
        self.calls.append((hook, dict(logs)))

    def on_train_begin(self, logs): self._record("train_begin", logs)
    def on_epoch_begin(self, logs): self._record("epoch_begin", logs)
    def on_validation_end(self, logs): self._record("validation_end", logs)
    def on_checkpoint(self, logs): self._record("checkpoint", logs)
    def on_epoch_end(self, logs): self._record("epoch_end", logs)
    def on_train_end(self, logs): self._record("train_end", logs)


def test_hooks_run_in_order_with_their_logs(tmp_path):
    rec = Recorder()
    run = netfit.fit({"data": {"source": "sklearn:iris"}}, callbacks=[rec], output_dir=str(tmp_path),
                     train__epochs=3, train__checkpoint__min_seconds=0, evaluate__bootstrap=0, evaluate__baselines=False)
    hooks = [h for h, _ in rec.calls]
    per_epoch = ["epoch_begin", "validation_end", "checkpoint", "epoch_end"]
    assert hooks == ["train_begin", *per_epoch * 3, "train_end"]
    logs = dict(rec.calls)
    assert logs["train_begin"]["epochs"] == 3
    assert {"epoch", "train_loss", "val_loss", "val_accuracy", "lr"} <= set(logs["epoch_end"])
    assert logs["checkpoint"]["path"].endswith(".pt") and logs["checkpoint"]["step"] > 0
    assert logs["train_end"]["stop_reason"] == "max_epochs"
    # what the callback saw is what the run recorded
    ends = [l for h, l in rec.calls if h == "epoch_end"]
    assert [e["train_loss"] for e in ends] == run.history["train_loss"].tolist()


def test_a_callback_overriding_one_hook_is_enough(tmp_path):
    class Losses(Callback):
        seen: list = []

        def on_epoch_end(self, logs):
            self.seen.append(logs["val_loss"])

    cb = Losses()
    netfit.fit({"data": {"source": "sklearn:iris"}}, callbacks=[cb], output_dir=str(tmp_path),
               train__epochs=2, evaluate__bootstrap=0, evaluate__baselines=False)
    assert len(cb.seen) == 2 and all(v > 0 for v in cb.seen)


def test_epoch_end_checkpoints_wait_min_seconds_and_the_last_epoch_always_saves(tmp_path):
    """Millisecond epochs do not write a file each: within `min_seconds` of the last save an epoch
    end is skipped, yet the run's last epoch is checkpointed, so a resume finds the finished run."""
    rec = Recorder()
    run = netfit.fit({"data": {"source": "sklearn:iris"}}, callbacks=[rec], output_dir=str(tmp_path),
                     train__epochs=4, train__checkpoint__min_seconds=3600, evaluate__bootstrap=0,
                     evaluate__baselines=False)
    saved = [logs for hook, logs in rec.calls if hook == "checkpoint"]
    assert [logs["epoch"] for logs in saved] == [4]
    assert [p.name for p in (run.path / "checkpoints").glob("step-*.pt")] == [Path(saved[0]["path"]).name]
