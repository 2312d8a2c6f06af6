"""Oracle tests: netfit's loop, losses and schedules against plain hand-written PyTorch."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from sklearn.datasets import load_digits

from netfit.config import TrainConfig, load_config
from netfit.model import build_model
from netfit.train.callbacks import Callback, CallbackList, StepSampler
from netfit.train.losses import build_loss
from netfit.train.loop import Environment, Objective, fit_loop
from netfit.train.optim import Schedule, build_optimizer
from netfit.train.tensors import Tensors


@pytest.fixture(scope="module")
def digits():
    x, y = load_digits(return_X_y=True)
    x = torch.tensor(x / 16.0, dtype=torch.float32)
    return x[:600], torch.tensor(y[:600])


def train_cfg(**kw) -> TrainConfig:
    base = {"epochs": 3, "batch_size": 32, "optimizer": {"name": "sgd", "lr": 0.05, "momentum": 0.9, "weight_decay": 0.0},
            "schedule": {"name": "constant"}, "early_stopping": None, "convergence": None,
            "label_smoothing": 0.0}  # the hand-written oracles use plain cross entropy
    base.update(kw)
    return load_config({"train": base}, require_data=False).train


def hand_loop(model, x, y, cfg: TrainConfig, seed: int):
    """What a careful engineer writes by hand: the oracle."""
    opt = torch.optim.SGD(model.parameters(), lr=cfg.optimizer.lr, momentum=cfg.optimizer.momentum)
    g = torch.Generator().manual_seed(seed)
    for _ in range(cfg.epochs):
        perm = torch.randperm(len(y), generator=g)
        for lo in range(0, len(y), cfg.batch_size):
            idx = perm[lo:lo + cfg.batch_size]
            loss = F.cross_entropy(model(x[idx]), y[idx])
            loss.backward()
            if cfg.grad_clip:
                torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
            opt.step()
            opt.zero_grad()


@pytest.mark.parametrize("clip", [None, 0.5])
def test_loop_matches_a_hand_written_pytorch_loop(digits, clip):
    x, y = digits
    cfg = train_cfg(grad_clip=clip)
    mcfg = load_config({"model": {"hidden": [32], "dropout": 0.0, "ensemble": 1}}, require_data=False).model
    torch.manual_seed(0)
    ours = build_model(mcfg, 64, [], 10)
    theirs = copy.deepcopy(ours)
    loss_fn = build_loss(cfg, "multiclass", y.numpy(), list(range(10)), torch.device("cpu"))
    result = fit_loop(ours, Tensors([x], y), None, cfg, Objective(loss_fn, "multiclass"), Environment(seed=7))
    hand_loop(theirs, x, y, cfg, seed=7)
    assert result.state.stop_reason == "max_epochs" and result.state.epoch == 3
    for (name, a), b in zip(ours.state_dict().items(), theirs.state_dict().values()):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-6, msg=name)


class GradientTaker(Callback):
    """A sampled in-step hook: copies of every parameter's gradient at its steps."""

    sample_every = 10

    def __init__(self):
        self.seen = []

    def on_step_sampled(self, sample):
        grads = [p.grad.detach().clone() for p in sample.model.parameters()]
        self.seen.append(((sample.epoch, sample.batch, sample.step), grads, sample.grad_scale))


def test_a_sampled_step_hook_sees_each_steps_real_gradients_before_the_optimizer_step(digits):
    x, y = digits  # 600 rows at batch 32: 19 steps an epoch, 57 in all
    cfg = train_cfg()
    mcfg = load_config({"model": {"hidden": [32], "dropout": 0.0, "ensemble": 1}}, require_data=False).model
    torch.manual_seed(0)
    ours = build_model(mcfg, 64, [], 10)
    theirs = copy.deepcopy(ours)
    loss_fn = build_loss(cfg, "multiclass", y.numpy(), list(range(10)), torch.device("cpu"))
    taker = GradientTaker()
    fit_loop(ours, Tensors([x], y), None, cfg, Objective(loss_fn, "multiclass"),
             Environment(seed=7, callbacks=CallbackList([taker])))
    assert [where for where, _, _ in taker.seen] == [(1, 10, 10), (2, 1, 20), (2, 11, 30), (3, 2, 40), (3, 12, 50)]
    # the oracle's gradients at the same steps, taken after backward and before opt.step()
    opt = torch.optim.SGD(theirs.parameters(), lr=cfg.optimizer.lr, momentum=cfg.optimizer.momentum)
    g, step, expected = torch.Generator().manual_seed(7), 0, []
    for _ in range(cfg.epochs):
        perm = torch.randperm(len(y), generator=g)
        for lo in range(0, len(y), cfg.batch_size):
            idx = perm[lo:lo + cfg.batch_size]
            F.cross_entropy(theirs(x[idx]), y[idx]).backward()
            step += 1
            if step % 10 == 0:
                expected.append([p.grad.detach().clone() for p in theirs.parameters()])
            opt.step()
            opt.zero_grad()
    for (where, grads, scale), want in zip(taker.seen, expected, strict=True):
        assert scale == 1.0
        assert all(torch.isfinite(gr).all() and gr.abs().sum() > 0 for gr in grads), where
        for gr, w in zip(grads, want, strict=True):
            torch.testing.assert_close(gr, w, rtol=0, atol=1e-6, msg=str(where))
    # reading the gradients changed nothing: the weights are the oracle's
    for (name, a), b in zip(ours.state_dict().items(), theirs.state_dict().values()):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-6, msg=name)


def test_the_step_sampler_is_off_without_listeners_and_replans_after_a_resume_or_rollback():
    assert StepSampler([Callback()]).due == -1  # the loop's per-step check never matches
    taker = GradientTaker()
    assert StepSampler([taker]).due == 9  # sampled when 9 steps are done: the 10th step's gradients
    sampler = StepSampler([taker], step=25)  # resumed after 25 steps
    assert sampler.due == 29
    sampler.reset(12)  # rolled back to step 12
    assert sampler.due == 19


def test_gradient_accumulation_equals_one_big_batch(digits):
    """accumulate=4 over batches of 16 takes the same steps as batches of 64 (mean losses, no dropout)."""
    x, y = digits
    mcfg = load_config({"model": {"hidden": [16], "dropout": 0.0, "ensemble": 1}}, require_data=False).model
    torch.manual_seed(0)
    a = build_model(mcfg, 64, [], 10)
    b = copy.deepcopy(a)
    n = 512  # divisible by 64, so every accumulated step sees 4 full micro-batches
    for model, bs, k in ((a, 64, 1), (b, 16, 4)):
        cfg = train_cfg(batch_size=bs, accumulate=k, epochs=1)
        cfg.optimizer.momentum = 0.0
        loss_fn = build_loss(cfg, "multiclass", y.numpy(), list(range(10)), torch.device("cpu"))
        # the same permutation for both: one epoch, same seed, same n
        fit_loop(model, Tensors([x[:n]], y[:n]), None, cfg, Objective(loss_fn, "multiclass"), Environment(seed=3))
    for (name, p), q in zip(a.state_dict().items(), b.state_dict().values()):
        torch.testing.assert_close(p, q, rtol=0, atol=1e-5, msg=name)


def test_losses_match_torch_functional():
    torch.manual_seed(0)
    out, y = torch.randn(20, 3), torch.randint(0, 3, (20,))
    w = torch.rand(20)
    cfg = train_cfg(loss="cross_entropy", label_smoothing=0.1)
    fn = build_loss(cfg, "multiclass", y.numpy(), [0, 1, 2], torch.device("cpu"))
    torch.testing.assert_close(fn(out, y), F.cross_entropy(out, y, label_smoothing=0.1))
    rows = F.cross_entropy(out, y, label_smoothing=0.1, reduction="none")
    torch.testing.assert_close(fn(out, y, w), (rows * w).sum() / w.sum())
    yb = torch.randint(0, 2, (20,))
    bce = build_loss(train_cfg(pos_weight=3.0), "binary", yb.numpy(), [0, 1], torch.device("cpu"))
    expected = F.binary_cross_entropy_with_logits(out[:, :1].squeeze(1), yb.float(), pos_weight=torch.tensor([3.0]))
    torch.testing.assert_close(bce(out[:, :1], yb), expected)
    yr = torch.randn(20)
    for name, ref in (("mse", F.mse_loss), ("mae", F.l1_loss), ("huber", F.huber_loss)):
        fn = build_loss(train_cfg(loss=name), "regression", yr.numpy(), [], torch.device("cpu"))
        torch.testing.assert_close(fn(out[:, :1], yr), ref(out[:, 0], yr))


def test_balanced_class_weights_follow_sklearn():
    from sklearn.utils.class_weight import compute_class_weight

    from netfit.train.losses import class_weights

    y = np.array([0] * 80 + [1] * 15 + [2] * 5)
    ours = class_weights(train_cfg(class_weight="balanced"), y, [0, 1, 2]).numpy()
    np.testing.assert_allclose(ours, compute_class_weight("balanced", classes=np.arange(3), y=y), rtol=1e-6)


def test_wrong_loss_for_the_task_is_a_config_error():
    from netfit.errors import ConfigError

    with pytest.raises(ConfigError, match="does not fit a regression task") as e:
        build_loss(train_cfg(loss="cross_entropy"), "regression", np.zeros(3), [], torch.device("cpu"))
    assert "mse" in str(e.value)


@pytest.mark.parametrize("name", ["constant", "step", "exponential", "cosine", "one_cycle", "reduce_on_plateau"])
def test_every_schedule_and_optimizer_builds_and_steps(name):
    model = torch.nn.Linear(4, 2)
    for opt_name in ("sgd", "adam", "adamw", "rmsprop"):
        cfg = train_cfg(optimizer={"name": opt_name, "lr": 0.1}, schedule={"name": name, "warmup_epochs": 1, "step_size": 2})
        opt = build_optimizer(cfg.optimizer, model)
        sched = Schedule(cfg.schedule, opt, 0.1, epochs=5, steps_per_epoch=4)
        lrs = []
        for _ in range(5):
            for _ in range(4):
                opt.step()
                sched.after_step()
            sched.after_epoch()
            sched.after_validation(1.0)
            lrs.append(opt.param_groups[0]["lr"])
        assert all(lr >= 0 for lr in lrs) and lrs[0] > 0
        if name in ("step", "exponential", "cosine"):
            assert lrs[-1] < 0.1


def test_cosine_warms_up_then_decays_to_min_lr():
    model = torch.nn.Linear(2, 1)
    cfg = train_cfg(optimizer={"name": "sgd", "lr": 1.0}, schedule={"name": "cosine", "warmup_epochs": 1, "min_lr": 0.1})
    opt = build_optimizer(cfg.optimizer, model)
    sched = Schedule(cfg.schedule, opt, 1.0, epochs=10, steps_per_epoch=10)
    seen = []
    for _ in range(100):
        seen.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.after_step()
    assert seen[0] == pytest.approx(0.1) and max(seen) == pytest.approx(1.0)
    assert seen[-1] == pytest.approx(0.1, abs=0.01)


@pytest.mark.parametrize("name", ["one_cycle", "cosine"])
def test_a_per_step_schedule_resumed_past_the_end_of_a_shorter_plan_holds_its_last_rate(name):
    """Epochs lowered on resume below the steps already taken: no error, and the rest of the run
    trains at the shorter plan's final rate (cosine: its floor)."""
    model = torch.nn.Linear(4, 2)
    cfg = train_cfg(optimizer={"name": "sgd", "lr": 0.1}, schedule={"name": name})
    opt = build_optimizer(cfg.optimizer, model)
    sched = Schedule(cfg.schedule, opt, 0.1, epochs=4, steps_per_epoch=4)
    for _ in range(12):  # 3 of 4 epochs done
        opt.step()
        sched.after_step()
    state = sched.state_dict()
    short_opt = build_optimizer(cfg.optimizer, model)
    short = Schedule(cfg.schedule, short_opt, 0.1, epochs=2, steps_per_epoch=4)
    ended = []
    for _ in range(8):  # a run planned for 2 epochs, to its end
        short_opt.step()
        short.after_step()
        ended.append(short_opt.param_groups[0]["lr"])
    resumed_opt = build_optimizer(cfg.optimizer, model)  # in the order a resume restores them
    resumed = Schedule(cfg.schedule, resumed_opt, 0.1, epochs=2, steps_per_epoch=4)
    resumed_opt.load_state_dict(opt.state_dict())
    resumed.load_state_dict(state)
    rates = []
    for _ in range(4):  # the rest of the epoch that was interrupted
        rates.append(resumed_opt.param_groups[0]["lr"])
        resumed_opt.step()
        resumed.after_step()
    assert rates == [ended[-1]] * 4


class RateTaker(Callback):
    """The learning rate each optimizer step is taken with, and each history row's `lr`."""

    sample_every = 1

    def __init__(self):
        self.steps, self.rows = {}, []

    def on_step_sampled(self, sample):
        self.steps.setdefault(sample.epoch, []).append(sample.optimizer.param_groups[0]["lr"])

    def on_epoch_end(self, logs):
        self.rows.append(logs["lr"])


@pytest.mark.parametrize("schedule", [{"name": "exponential", "gamma": 0.5}, {"name": "step", "step_size": 1, "gamma": 0.1},
                                      {"name": "cosine", "warmup_epochs": 1}, {"name": "one_cycle"}, {"name": "constant"}])
def test_history_lr_is_the_rate_the_epoch_trained_with(digits, schedule):
    x, y = digits[0][:128], digits[1][:128]  # 4 steps an epoch
    cfg = train_cfg(schedule=schedule, optimizer={"name": "sgd", "lr": 1e-2})
    torch.manual_seed(0)
    model = build_model(load_config({"model": {"hidden": [8], "ensemble": 1}}, require_data=False).model, 64, [], 10)
    loss_fn = build_loss(cfg, "multiclass", y.numpy(), list(range(10)), torch.device("cpu"))
    taker = RateTaker()
    result = fit_loop(model, Tensors([x], y), None, cfg, Objective(loss_fn, "multiclass"),
                      Environment(seed=0, callbacks=CallbackList([taker])))
    # per-epoch schedules: the epoch's one rate; per-step ones: the rate of the epoch's last step
    assert taker.rows == [taker.steps[e][-1] for e in (1, 2, 3)]
    assert [r["lr"] for r in result.state.history] == taker.rows
    if schedule["name"] == "exponential":
        assert taker.rows == [1e-2, 5e-3, 2.5e-3]


class LastWeights(Callback):
    def __init__(self, model):
        self.model, self.weights = model, None

    def on_epoch_end(self, logs):
        self.weights = copy.deepcopy(self.model.state_dict())


def test_early_stopping_whose_monitored_value_is_never_finite_stops_and_keeps_the_last_weights(digits):
    from netfit.train.stopping import StoppingWarning

    x, y = digits[0][:128], digits[1][:128]
    val_x = digits[0][128:192].clone()
    val_x[:, 0] = float("nan")  # every validation output, hence val_loss, is NaN
    cfg = train_cfg(epochs=6, early_stopping={"patience": 2, "restore_best": True})
    torch.manual_seed(0)
    model = build_model(load_config({"model": {"hidden": [8], "ensemble": 1}}, require_data=False).model, 64, [], 10)
    loss_fn = build_loss(cfg, "multiclass", y.numpy(), list(range(10)), torch.device("cpu"))
    last = LastWeights(model)
    with pytest.warns(StoppingWarning, match="val_loss was never finite"):
        result = fit_loop(model, Tensors([x], y), Tensors([val_x], digits[1][128:192]), cfg,
                          Objective(loss_fn, "multiclass"), Environment(seed=0, callbacks=CallbackList([last])))
    state = result.state
    assert state.stop_reason == "early_stopping" and state.epoch == 2
    assert "val_loss was never finite in 2 validations" in state.stop_message
    assert state.best_epoch == 2  # no best to restore: the weights are the last epoch's, not the initial ones
    for name, w in model.state_dict().items():
        torch.testing.assert_close(w, last.weights[name], rtol=0, atol=0, msg=name)



class TrainBegin(Callback):
    def on_train_begin(self, logs):
        self.logs = logs


def test_batch_norm_drops_a_one_row_last_batch_as_drop_last_would(digits):
    """97 rows in batches of 32 end with a batch of 1 row, which batch norm cannot normalise: it is
    left out, as the hand loop's drop_last does, and the epoch has 3 batches."""
    x, y = digits[0][:97], digits[1][:97]
    cfg = train_cfg(epochs=2)
    mcfg = load_config({"model": {"hidden": [16], "dropout": 0.0, "norm": "batch", "ensemble": 1}}, require_data=False).model
    torch.manual_seed(0)
    ours = build_model(mcfg, 64, [], 10)
    theirs = copy.deepcopy(ours)
    loss_fn = build_loss(cfg, "multiclass", y.numpy(), list(range(10)), torch.device("cpu"))
    begin = TrainBegin()
    result = fit_loop(ours, Tensors([x], y), None, cfg, Objective(loss_fn, "multiclass"),
                      Environment(seed=7, callbacks=CallbackList([begin])))
    assert result.state.stop_reason == "max_epochs" and result.state.step == 2 * 3
    assert begin.logs["steps_per_epoch"] == 3
    opt = torch.optim.SGD(theirs.parameters(), lr=cfg.optimizer.lr, momentum=cfg.optimizer.momentum)
    g = torch.Generator().manual_seed(7)
    theirs.train()
    for _ in range(2):
        perm = torch.randperm(97, generator=g)
        for lo in range(0, 96, 32):  # drop_last
            idx = perm[lo:lo + 32]
            F.cross_entropy(theirs(x[idx]), y[idx]).backward()
            opt.step()
            opt.zero_grad()
    for (name, a), b in zip(ours.state_dict().items(), theirs.state_dict().values()):  # running statistics too
        torch.testing.assert_close(a, b, rtol=0, atol=1e-6, msg=name)


@pytest.mark.parametrize("rows, batch_size, world_size, trained", [
    (97, 32, 1, 96),    # a last batch of 1 row: dropped
    (98, 32, 1, 98),    # of 2 rows: kept
    (99, 32, 2, 96),    # 3 rows over 2 processes deal one of them 1 row: dropped
    (97, 32, 2, 96),    # 1 row over 2 processes: 1 and none
    (100, 32, 2, 100),  # 4 rows: 2 each, kept
])
def test_batch_norm_drops_a_last_batch_that_leaves_a_process_one_row(rows, batch_size, world_size, trained):
    from netfit.train.distributed import Dist
    from netfit.train.tensors import epoch_rows

    bn = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.BatchNorm1d(2))
    dist = Dist(0, world_size)
    assert epoch_rows(rows, batch_size, bn, dist) == trained
    assert epoch_rows(rows, batch_size, torch.nn.Linear(2, 2), dist) == rows  # without batch norm: every row


def test_batch_norm_with_batches_of_one_row_per_process_is_a_config_error():
    from netfit.errors import ConfigError
    from netfit.train.distributed import Dist
    from netfit.train.tensors import epoch_rows

    bn = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.BatchNorm1d(2))
    with pytest.raises(ConfigError, match="batch norm") as e:
        epoch_rows(100, 3, bn, Dist(0, 2))
    assert "train.batch_size 3" in e.value.found and "4" in e.value.hint
    with pytest.raises(ConfigError, match="batch norm"):
        epoch_rows(100, 1, bn, Dist())


def test_a_streamed_epoch_ends_at_its_trained_rows():
    """Streamed blocks hold whole batches but the last: dropping the 1-row tail ends the epoch there."""
    from netfit.train.distributed import Dist
    from netfit.train.tensors import Streamed, batches

    class Blocks:
        def __len__(self):
            return 97

        def blocks(self, seed, batch_size):
            yield np.arange(64.0)
            yield np.arange(64.0, 97.0)

    train = Streamed(Blocks(), lambda b: Tensors([torch.tensor(b)], torch.tensor(b)), torch.device("cpu"))
    g = torch.Generator().manual_seed(0)
    assert [len(y) for _, y, _, _ in batches(train, g, 32, 0, Dist(), 96)] == [32, 32, 32]
    assert [len(y) for _, y, _, _ in batches(train, g, 32, 0, Dist())] == [32, 32, 32, 1]
    assert [len(y) for _, y, _, _ in batches(train, g, 32, 2, Dist(), 96)] == [32]  # resumed after 2 batches


def neg_loss(output, target):
    """A score that rises as the model learns: the negative cross-entropy."""
    return -F.cross_entropy(output, target)


@pytest.mark.parametrize("mode", ["max", "min"])
def test_reduce_on_plateau_follows_the_early_stopping_mode(digits, mode):
    """The monitored score rises every epoch: with `mode: max` that is improvement and the rate stays;
    with `mode: min` the same rise is no improvement, and with patience 0 the rate halves each time."""
    x, y = digits
    cfg = train_cfg(epochs=4, schedule={"name": "reduce_on_plateau", "patience": 0, "factor": 0.5},
                    early_stopping={"monitor": "val_neg_loss", "mode": mode, "patience": 10})
    torch.manual_seed(0)
    model = build_model(load_config({"model": {"hidden": [32], "dropout": 0.0, "numeric_embedding": "none", "ensemble": 1}},
                                    require_data=False).model, 64, [], 10)
    loss_fn = build_loss(cfg, "multiclass", y.numpy(), list(range(10)), torch.device("cpu"))
    val_x, val_y = load_digits(return_X_y=True)
    val = Tensors([torch.tensor(val_x[600:900] / 16.0, dtype=torch.float32)], torch.tensor(val_y[600:900]))
    result = fit_loop(model, Tensors([x], y), val, cfg, Objective(loss_fn, "multiclass", metrics={"neg_loss": neg_loss}),
                      Environment(seed=0))
    history = result.state.history
    scores = [r["val_neg_loss"] for r in history]
    assert scores == sorted(scores) and len(set(scores)) == 4  # the score really rose every epoch
    assert [r["lr"] for r in history] == ([0.05] * 4 if mode == "max" else [0.05, 0.05, 0.025, 0.0125])
    assert result.state.best_epoch == (4 if mode == "max" else 1)  # restore-best follows the same mode


def test_a_series_or_an_image_set_gets_a_budget_in_steps_and_patience_100_unless_the_config_sets_them():
    from netfit.config.train import MAX_AUTO_EPOCHS
    from netfit.train.loop import KIND_PATIENCE, kind_budget, with_step_budget

    series = {"kind": "sequence", "shape": [150, 1]}
    cfg = kind_budget(TrainConfig(), series)
    assert cfg.epochs == "auto" and cfg.early_stopping.patience == KIND_PATIENCE
    assert with_step_budget(cfg.model_copy(update={"batch_size": 64}), 50).epochs == MAX_AUTO_EPOCHS  # one step an epoch
    assert with_step_budget(cfg.model_copy(update={"batch_size": 16}), 50).epochs == 500  # 4 steps an epoch
    mine = kind_budget(TrainConfig(epochs=30, early_stopping={"patience": 5}), series)
    assert mine.epochs == 30 and mine.early_stopping.patience == 5  # set fields are kept
    assert kind_budget(TrainConfig(), None) == TrainConfig()  # tables keep theirs
    image = kind_budget(TrainConfig(), {"kind": "image", "shape": [1, 25, 25]})
    assert image.epochs == "auto" and image.early_stopping.patience == KIND_PATIENCE
    assert kind_budget(TrainConfig(), {"kind": "text", "vocab_size": 100}) == TrainConfig()
    assert kind_budget(TrainConfig(early_stopping=None), series).early_stopping is None


def test_a_series_whose_validation_has_fewer_rows_than_classes_trains_its_whole_budget():
    """PigCVP: 21 validation rows for 52 classes; stopping on their loss kept a 0.07-accuracy network."""
    from netfit.train.loop import KIND_PATIENCE, kind_budget

    series = {"kind": "sequence", "shape": [2000, 1]}
    assert kind_budget(TrainConfig(), series, val_rows=21, classes=52).early_stopping is None
    assert kind_budget(TrainConfig(), series, val_rows=8, classes=4).early_stopping.patience == KIND_PATIENCE
    assert kind_budget(TrainConfig(), series, val_rows=5, classes=0).early_stopping.patience == KIND_PATIENCE
    mine = kind_budget(TrainConfig(early_stopping={"patience": 7}), series, val_rows=21, classes=52)
    assert mine.early_stopping.patience == 7  # a config that sets early stopping keeps it
    assert kind_budget(TrainConfig(), None, val_rows=21, classes=52) == TrainConfig()  # tables keep theirs
