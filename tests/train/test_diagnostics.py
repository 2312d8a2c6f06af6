"""Training health (train.diagnostics, docs/diagnostics.md): runs on small real data that provoke
each finding, with the findings allowed beside it stated per test; a healthy run has none."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import netfit
from netfit.train.diagnostics import AUTO_MIN_EVERY, MAX_SAMPLES, findings, sample_every

ROOT = Path(__file__).resolve().parents[2]

FAST = {"bootstrap": 0, "baselines": False, "report_html": False}


def fit(tmp_path, data: dict, model: dict, train: dict, quiet: bool = True) -> dict:
    config = {"seed": 0, "data": data, "model": {"dropout": 0.0, "ensemble": 1, **model},  # one network: the figures below were measured on one
              "train": {"batch_size": 64, "early_stopping": None, **train}, "evaluate": FAST}
    run = netfit.fit(config, output_dir=str(tmp_path), quiet=quiet)
    return json.loads((run.path / "report.json").read_text())


def digits(train: float = 0.7) -> dict:
    return {"source": "sklearn:digits", "split": {"train": train, "val": 0.15, "test": 1 - train - 0.15}}


def codes(report: dict) -> set[str]:
    return {f["code"] for f in report["diagnostics"]["findings"]}


def test_a_large_negative_bias_kills_the_relus_and_says_so(tmp_path):
    report = fit(tmp_path, digits(), {"hidden": [32], "bias_init": -10.0},
                 {"epochs": 3, "diagnostics": "full", "schedule": {"name": "constant"}})
    diag = report["diagnostics"]
    assert "dead_units" in codes(report)
    # beside it: no gradient reaches the first layer through dead units; 3 epochs still improve the head
    assert codes(report) <= {"dead_units", "vanishing_gradients", "still_improving"}
    dead = next(f for f in diag["findings"] if f["code"] == "dead_units")
    assert dead["evidence"]["layer"] == "body.1" and dead["evidence"]["share"] == 1.0
    assert dead["fix"] and dead["message"]
    # full: every step sampled; the per-layer series line up with the sampled steps
    assert diag["sample_every"] == 1 and diag["samples"] == len(diag["steps"]) == report["steps"]
    assert [layer["name"] for layer in diag["layers"]] == ["body.0", "head"]
    assert all(len(layer["grad_norm"]) == len(layer["update_ratio"]) == len(diag["steps"]) for layer in diag["layers"])
    assert diag["layers"][0]["grad_norm"][-1] == 0.0  # nothing flows back through the dead layer
    assert diag["activations"][0]["measure"] == "dead" and len(diag["activations"][0]["share"]) == len(diag["activation_steps"])


def test_an_ensembles_output_layer_is_watched_like_any_layer(tmp_path):
    report = fit(tmp_path, digits(), {"hidden": [32], "ensemble": 4}, {"epochs": 2, "diagnostics": "full"})
    layers = report["diagnostics"]["layers"]
    assert [(layer["name"], layer["type"]) for layer in layers] == [("body.0", "Linear"), ("head", "EnsembleLinear")]
    head = layers[1]
    assert len(head["grad_norm"]) == len(report["diagnostics"]["steps"])
    assert all(g > 0 for g in head["grad_norm"]) and all(0 < r < 1 for r in head["update_ratio"])


def test_a_learning_rate_of_10_with_sgd_is_too_high(tmp_path):
    # columns scaled by mean and std, unclipped: the default smooth clipping bounds the inputs, and the
    # updates of lr 10 with them
    data = {**digits(), "preprocess": {"numeric": "standardize", "clip": None}}
    report = fit(tmp_path, data, {"hidden": [64]}, {"epochs": 3, "diagnostics": "full", "optimizer": {"name": "sgd", "lr": 10.0}})
    assert {"lr_too_high", "diverged"} <= codes(report)
    # beside them: the rollbacks lower the rate and the last epochs still improve; units may die on the way
    assert codes(report) <= {"lr_too_high", "diverged", "still_improving", "dead_units", "vanishing_gradients"}
    high = next(f for f in report["diagnostics"]["findings"] if f["code"] == "lr_too_high")
    assert high["evidence"]["update_ratio"] > 0.1


def test_two_epochs_end_while_the_model_still_improves_and_the_end_of_training_says_so(tmp_path, capsys):
    report = fit(tmp_path, digits(), {"hidden": [32]}, {"epochs": 2}, quiet=False)
    assert codes(report) == {"still_improving"}  # nothing beside it
    out = capsys.readouterr().out
    assert "training health: 1 finding" in out and "still_improving" in out and "fix: raise train.epochs" in out
    assert report["diagnostics"]["mode"] == "auto" and report["diagnostics"]["sample_every"] == AUTO_MIN_EVERY


def test_a_tiny_clip_threshold_engages_on_every_step_and_bf16_tanh_is_watched(tmp_path):
    report = fit(tmp_path, digits(), {"hidden": [32], "activation": "tanh"},
                 {"epochs": 2, "precision": "bf16", "diagnostics": "full", "grad_clip": 0.01})
    assert codes(report) == {"clipping_most_steps", "still_improving"}  # 2 epochs: still improving beside it
    clip = next(f for f in report["diagnostics"]["findings"] if f["code"] == "clipping_most_steps")["evidence"]
    assert clip["share"] == 1.0 and clip["samples"] == report["steps"]
    assert report["diagnostics"]["activations"][0]["measure"] == "saturated"


def test_heavy_momentum_on_batches_of_8_makes_the_loss_spike(tmp_path):
    report = fit(tmp_path, digits(), {"hidden": [64]},
                 {"epochs": 3, "batch_size": 8, "diagnostics": "full", "label_smoothing": 0.0,
                  "schedule": {"name": "constant"}, "optimizer": {"name": "sgd", "lr": 0.3, "momentum": 0.95}})
    assert "loss_spikes" in codes(report)
    # beside it: the same steps kill units, and one of them diverges (rolled back)
    assert codes(report) <= {"loss_spikes", "dead_units", "vanishing_gradients", "diverged", "lr_too_high",
                             "still_improving"}
    spikes = next(f for f in report["diagnostics"]["findings"] if f["code"] == "loss_spikes")["evidence"]
    assert spikes["spikes"] == sum(e["loss_spikes"] for e in report["diagnostics"]["epochs"]) >= 3
    assert len(report["diagnostics"]["loss"]) == len(report["diagnostics"]["steps"])


def test_a_large_positive_bias_saturates_the_tanh_units_and_says_so(tmp_path):
    # plain SGD: Adam's normalised steps would pull the biases back within a few dozen steps
    report = fit(tmp_path, digits(), {"hidden": [32], "activation": "tanh", "init": "normal", "init_std": 0.01,
                                      "bias_init": 5.0},
                 {"epochs": 3, "diagnostics": "full", "optimizer": {"name": "sgd", "lr": 0.05}})
    assert "saturated_units" in codes(report)
    # beside it: almost no gradient passes the saturated layer; the head still improves
    assert codes(report) <= {"saturated_units", "vanishing_gradients", "still_improving"}
    sat = next(f for f in report["diagnostics"]["findings"] if f["code"] == "saturated_units")["evidence"]
    assert sat["layer"] == "body.1" and sat["share"] == 1.0


def test_eight_sigmoid_layers_starve_the_first_layer_of_gradient(tmp_path):
    report = fit(tmp_path, digits(), {"hidden": [32] * 8, "activation": "sigmoid", "init": "normal", "init_std": 0.05},
                 {"epochs": 3, "diagnostics": "full"})
    assert codes(report) == {"vanishing_gradients", "still_improving"}  # 3 epochs: still improving beside it
    found = next(f for f in report["diagnostics"]["findings"] if f["code"] == "vanishing_gradients")["evidence"]
    assert found["first_layer"] == "body.0" and found["last_layer"] == "head" and found["ratio"] < 1e-3


def test_a_learning_rate_of_1e_7_barely_moves_the_weights(tmp_path):
    report = fit(tmp_path, digits(), {"hidden": [32]},
                 {"epochs": 2, "diagnostics": "full", "optimizer": {"name": "sgd", "lr": 1e-7}})
    assert codes(report) == {"lr_too_low", "still_improving"}  # the loss still creeps down at the end
    assert next(f for f in report["diagnostics"]["findings"] if f["code"] == "lr_too_low")["evidence"]["update_ratio"] < 1e-6


def test_a_step_schedule_that_decays_early_leaves_the_model_improving_on_a_rate_near_zero(tmp_path):
    # 1e-3, x0.005 every 2 epochs: below 1% of the peak from epoch 3, while the validation loss keeps
    # inching down for a few epochs more
    report = fit(tmp_path, digits(), {"hidden": [32]},
                 {"epochs": 12, "schedule": {"name": "step", "step_size": 2, "gamma": 0.005}})
    assert "lr_decayed_early" in codes(report)
    # beside it: the rate near 0 moves no weight (lr_too_low), and the last epoch may be the best
    assert codes(report) <= {"lr_decayed_early", "lr_too_low", "still_improving"}
    early = next(f for f in report["diagnostics"]["findings"] if f["code"] == "lr_decayed_early")["evidence"]
    assert early["near_zero_epoch"] == 3 and early["best_epoch"] >= 6


def test_a_big_net_on_few_noisy_rows_overfits_from_the_first_epochs(tmp_path):
    report = fit(tmp_path, {"source": "sklearn:diabetes", "split": {"train": 0.3, "val": 0.3, "test": 0.4}},
                 {"hidden": [256, 256]}, {"epochs": 36, "batch_size": 32, "schedule": {"name": "constant"},
                                          "optimizer": {"name": "adam", "lr": 3e-3, "weight_decay": 0.0}})
    assert codes(report) == {"overfitting"}  # nothing beside it
    seen = next(f for f in report["diagnostics"]["findings"] if f["code"] == "overfitting")["evidence"]
    assert seen["best_val_epoch"] <= 12 and seen["last_val_loss"] >= 1.1 * seen["best_val_loss"]


def test_the_healthy_digits_run_trained_to_early_stopping_has_no_finding(tmp_path):
    # plain cross entropy: with the default label smoothing the smoothed validation loss keeps
    # creeping down on digits, and the demo runs its 60 epochs (no finding either: the best epoch is not the last)
    run = netfit.fit(ROOT / "examples" / "digits_mlp.yaml", output_dir=str(tmp_path), evaluate__bootstrap=0,
                     train__label_smoothing=0.0)
    report = json.loads((run.path / "report.json").read_text())
    assert report["stop_reason"] == "early_stopping"
    diag = report["diagnostics"]
    assert diag["findings"] == []
    assert diag["samples"] > 0 and all(layer["grad_norm"] for layer in diag["layers"])
    html = (run.path / "report.html").read_text()
    assert 'id="health"' in html and "No finding" in html


def test_n_keeps_to_its_floor_and_spreads_long_runs():
    assert sample_every("full", 10_000) == 1
    assert sample_every("auto", 100) == AUTO_MIN_EVERY
    assert sample_every("auto", 100 * AUTO_MIN_EVERY * MAX_SAMPLES) == 100 * AUTO_MIN_EVERY


@pytest.mark.parametrize("lrs, best, expected", [
    ([1e-2] * 3 + [1e-5] * 12, 14, {"lr_decayed_early"}),  # near 0 from epoch 4, best at 14
    ([1e-2] * 13 + [1e-5] * 2, 14, set()),  # near 0 only at the end
])
def test_the_schedule_ending_near_zero_long_before_the_best_epoch(lrs, best, expected):
    history = [{"epoch": e, "train_loss": 1.0, "val_loss": 1.0 - 0.01 * min(e, best), "lr": lr}
               for e, lr in enumerate(lrs, start=1)]
    assert {f["code"] for f in findings(None, history, "early_stopping", "val_loss", "min")} == expected


def test_clipping_on_most_sampled_steps_is_a_finding():
    diag = {"layers": [], "activations": [], "clip": {"grad_clip": 1.0, "grad_clip_value": None},
            "epochs": [{"epoch": 1, "samples": 10, "clipped_share": 0.9}]}
    assert {f["code"] for f in findings(diag, [], "max_epochs", "val_loss", "min")} == {"clipping_most_steps"}


@pytest.mark.parametrize("spikes, samples, expected", [(4, 40, {"loss_spikes"}), (2, 40, set()), (4, 200, set())])
def test_loss_spikes_on_enough_sampled_steps_are_a_finding(spikes, samples, expected):
    diag = {"layers": [], "activations": [], "clip": {},
            "epochs": [{"epoch": 1, "samples": samples, "loss_spikes": spikes}]}
    assert {f["code"] for f in findings(diag, [], "max_epochs", "val_loss", "min")} == expected


def test_the_loss_watch_counts_a_jump_above_the_recent_median_and_not_the_noise_near_zero():
    import torch

    from netfit.train.diagnostics import Diagnostics

    watch = Diagnostics(torch.nn.Linear(2, 1), "auto", 1)
    for loss in [2.3, 1.5, 1.0, 0.8, 0.6, 0.5, 2.0, 0.5, 0.45]:  # one jump of 1.5 over a median of ~0.8
        watch._watch_loss(loss)
    assert watch.spikes == 1
    for loss in [0.02, 0.01, 0.015, 0.01, 0.05, 0.012]:  # 5x the median, but tiny against the first loss
        watch._watch_loss(loss)
    assert watch.spikes == 1


def test_watching_every_step_changes_no_weight_and_leaves_no_hook_behind():
    import copy

    import torch
    from sklearn.datasets import load_digits

    from netfit.config import load_config
    from netfit.model import build_model
    from netfit.train.loop import Environment, Objective, fit_loop
    from netfit.train.losses import build_loss
    from netfit.train.tensors import Tensors

    x, y = load_digits(return_X_y=True)
    x, y = torch.tensor(x[:320] / 16.0, dtype=torch.float32), torch.tensor(y[:320])
    cfg = load_config({"model": {"hidden": [16], "dropout": 0.0, "numeric_embedding": "none", "ensemble": 1},
                       "train": {"epochs": 2, "batch_size": 32, "early_stopping": None, "convergence": None,
                                 "optimizer": {"name": "adam", "lr": 1e-2}, "grad_clip": 1.0}}, require_data=False)
    torch.manual_seed(0)
    watched = build_model(cfg.model, 64, [], 10)
    plain = copy.deepcopy(watched)
    loss_fn = build_loss(cfg.train, "multiclass", y.numpy(), list(range(10)), torch.device("cpu"))
    results = [fit_loop(model, Tensors([x], y), None, cfg.train.model_copy(update={"diagnostics": mode}),
                        Objective(loss_fn, "multiclass"), Environment(seed=1))
               for model, mode in ((watched, "full"), (plain, "off"))]
    for (name, a), b in zip(watched.state_dict().items(), plain.state_dict().values()):
        torch.testing.assert_close(a, b, rtol=0, atol=0, msg=name)  # reading changed nothing, not even clipping
    full, off = (r.diagnostics for r in results)
    assert full["samples"] == results[0].state.step == 20 and off == {"mode": "off", "findings": off["findings"]}
    assert [e["samples"] for e in full["epochs"]] == [10, 10]
    assert all(not m._forward_hooks for m in watched.modules())
