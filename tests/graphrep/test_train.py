"""The training loop: resume after an interruption, finished checkpoints, and epoch
budgets handed out by one longer run."""
import json

import pytest
import torch
from torch import nn

from graphrep.train import _run_loop


class _Interrupt(Exception):
    pass


def _toy_run(epochs, checkpoint=None, budgets=(), losses=None, patience=20,
             interrupt_after=None, on_budget=None):
    """A linear model trained on draws from the global RNG; ``losses`` (a list) replaces
    the reported loss per epoch to steer early stopping."""
    torch.manual_seed(0)
    model = nn.Linear(3, 1)
    gen = torch.Generator().manual_seed(1)
    calls = []

    def epoch_fn(opt):
        x = torch.randn(8, 3) + torch.rand(1, generator=gen)
        loss = model(x).pow(2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        calls.append(1)
        return float(loss.detach()) if losses is None else losses[len(calls) - 1]

    def on_epoch(rec):
        if interrupt_after is not None and rec["epoch"] == interrupt_after:
            raise _Interrupt

    res = _run_loop(model, epoch_fn, epochs, patience, 0.1, 0.0, gen, checkpoint, 1,
                    on_epoch, False, "toy", budgets=budgets, on_budget=on_budget)
    return model, res, len(calls)


def _same_params(a: nn.Module, b: nn.Module) -> bool:
    return all(torch.equal(x, y) for x, y in zip(a.state_dict().values(),
                                                 b.state_dict().values(), strict=True))


def test_interrupted_run_resumes_to_the_uninterrupted_one(tmp_path):
    whole, res, _ = _toy_run(6)
    ckpt = tmp_path / "checkpoint.pt"
    with pytest.raises(_Interrupt):
        _toy_run(6, ckpt, interrupt_after=2)
    assert torch.load(ckpt, weights_only=False)["epoch"] == 1  # epoch 2 was not saved
    resumed, res2, calls = _toy_run(6, ckpt)
    assert calls == 4 and res2.losses == res.losses  # epochs 2-5 run again, same draws
    assert _same_params(whole, resumed)
    # the finished checkpoint keeps the lowest-loss parameters and the record only
    done = torch.load(ckpt, weights_only=False)
    assert done["finished"] and "optimizer" not in done and "generator" not in done
    again, res3, calls = _toy_run(6, ckpt)
    assert calls == 0 and res3.losses == res.losses and res3.best_epoch == res.best_epoch
    assert _same_params(whole, again)
    # a checkpoint of another budget is refused, not silently returned
    for epochs in (4, 9):
        with pytest.raises(ValueError, match=r"holds a finished run of 6 epochs, not one of"):
            _toy_run(epochs, ckpt)


def test_resume_keeps_the_early_stopping_state(tmp_path):
    """Interrupted after its best epoch (0) with patience running: the resumed run stops
    where the uninterrupted one does, with epoch 0's parameters (the best loss, its
    parameters and the patience count come from the checkpoint, not from scratch)."""
    losses = [1, 5, 5, 5, 5, 5, 5, 5]
    whole, res, calls = _toy_run(8, losses=losses, patience=3)
    assert calls == 4 and res.stopped_early and res.best_epoch == 0
    ckpt = tmp_path / "checkpoint.pt"
    with pytest.raises(_Interrupt):
        _toy_run(8, ckpt, losses=losses, patience=3, interrupt_after=2)
    # the resumed process counts its own calls from 0: losses[0] is epoch 2's report
    resumed, res2, calls = _toy_run(8, ckpt, losses=losses[2:], patience=3)
    assert calls == 2 and res2.stopped_early and res2.best_epoch == 0
    assert res2.best_loss == 1 and res2.losses == res.losses
    assert _same_params(resumed, whole)
    assert _same_params(resumed, _toy_run(1, losses=losses)[0])


@pytest.mark.parametrize("losses", [None, [5, 4, 3, 3.5, 3.6, 3.7, 3.8, 3.9, 4, 4]],
                         ids=["full", "stops-at-epoch-5"])
def test_budgets_equal_runs_of_that_many_epochs(losses):
    handed = {}

    def on_budget(b, model, res):
        torch.rand(5)  # the receiver's draws must not change training
        handed[b] = ({k: v.clone() for k, v in model.state_dict().items()}, res)

    longest, res, _ = _toy_run(10, budgets=[0, 3, 6, 8], losses=losses, patience=2,
                               on_budget=on_budget)
    assert sorted(handed) == sorted(res.budgets_done) == [0, 3, 6, 8]
    for b, (state, snap) in handed.items():
        own, own_res, _ = _toy_run(b, losses=losses, patience=2)
        assert all(torch.equal(state[k], v) for k, v in own.state_dict().items())
        assert snap.losses == own_res.losses and snap.best_epoch == own_res.best_epoch
        assert snap.stopped_early == own_res.stopped_early
    if losses is not None:  # stopped after 5 epochs: 6 and 8 are the final state
        assert len(res.losses) == 5 and handed[6][1].stopped_early
        assert _same_params(longest, _toy_run(6, losses=losses, patience=2)[0])


def test_early_stopping_restores_the_parameters_after_the_lowest_loss_step():
    """Losses 5, 4, 3, 3.5, 3.6 with patience 2: the run stops after epoch 4 (two epochs
    without improvement) and ends with the parameters saved at epoch 2 (the lowest loss),
    taken after that epoch's optimizer step, as the release saves them: the parameters of
    a 3-epoch run, not those of the run after its 5 steps."""
    losses = [5, 4, 3, 3.5, 3.6, 3.7]
    stopped, res, calls = _toy_run(6, losses=losses, patience=2)
    assert calls == 5 and res.stopped_early and res.best_epoch == 2 and res.best_loss == 3
    three_steps = _toy_run(3, losses=losses, patience=2)[0]
    assert _same_params(stopped, three_steps)
    five_steps = _toy_run(5, losses=[5, 4, 3, 2, 1], patience=2)[0]  # no stop: its last state
    assert not _same_params(stopped, five_steps)


def test_budgets_a_resumed_run_passed_are_not_handed_out(tmp_path):
    ckpt = tmp_path / "checkpoint.pt"
    with pytest.raises(_Interrupt):
        _toy_run(6, ckpt, interrupt_after=3)
    handed = []
    _, res, _ = _toy_run(6, ckpt, budgets=[2, 5], on_budget=lambda b, m, r: handed.append(b))
    assert handed == res.budgets_done == [5]


def test_bad_budgets_are_rejected():
    for bad in (4, -1):
        with pytest.raises(ValueError, match=r"in \[0, epochs=4\)"):
            _toy_run(4, budgets=[bad], on_budget=lambda *a: None)
    with pytest.raises(ValueError, match="without on_budget"):
        _toy_run(4, budgets=[2])


def test_epoch_groups():
    from graphrep.experiment import _epoch_groups
    from graphrep.train import GraphTrainConfig

    cfgs = [GraphTrainConfig(num_layers=n, epochs=e) for n in (2, 4) for e in (40, 20, 40)]
    groups = _epoch_groups(cfgs)
    assert [[(c.num_layers, c.epochs) for c in g] for g in groups] == [
        [(2, 20), (2, 40)], [(4, 20), (4, 40)]]


def test_epoch_sweep_trains_each_config_once(data_dir, cache_dir, tmp_path):
    """``--epochs 2 4``: the 4-epoch run writes the 2-epoch cell, bit for bit what a
    2-epoch run writes; a cell lost later is retrained on its own."""
    from graphrep.cli import main

    common = ["--dataset", "MUTAG", "--seeds", "0", "--hidden", "16", "--data-dir",
              str(data_dir), "--cache-dir", str(cache_dir), "--quiet"]
    sweep, alone = tmp_path / "sweep", tmp_path / "alone"
    assert main(["train", *common, "--epochs", "2", "4", "--out-dir", str(sweep)]) == 0
    assert main(["train", *common, "--epochs", "2", "--out-dir", str(alone)]) == 0

    def emb(run, name):
        return torch.load(run / name / "seed_0" / "embedding.pt", weights_only=False)

    short = emb(sweep, "L2-B128-E2")
    assert torch.equal(short["embedding"], emb(alone, "L2-B128-E2")["embedding"])
    assert short["train"]["epochs_run"] == 2 and emb(sweep, "L2-B128-E4")["train"]["epochs_run"] == 4
    lines = [json.loads(x) for x in (sweep / "metrics.jsonl").read_text().splitlines()]
    trained = {(r["config"], r["epoch"]) for r in lines if "loss" in r}
    assert trained == {("L2-B128-E4", e) for e in range(4)}  # one run of 4 epochs
    ckpt = torch.load(sweep / "L2-B128-E2" / "seed_0" / "checkpoint.pt", weights_only=False)
    assert ckpt["finished"] and len(ckpt["losses"]) == 2

    for f in ("embedding.pt", "checkpoint.pt"):
        (sweep / "L2-B128-E2" / "seed_0" / f).unlink()
    assert main(["train", *common, "--epochs", "2", "4", "--out-dir", str(sweep),
                 "--resume"]) == 0
    assert torch.equal(emb(sweep, "L2-B128-E2")["embedding"], short["embedding"])


def test_graph_training_without_a_two_graph_batch_is_refused(mutag):
    """The JSD loss takes its negatives from the other graphs of a batch: one graph gives no
    batch to train on, which must not pass as a loss of 0 every epoch."""
    from graphrep.models import MVGRLGraph
    from graphrep.train import GraphTrainConfig, train_graph_model
    from graphrep.views import DiffusionOptions, attach_graph_views

    graphs = attach_graph_views(mutag.graphs[:1], DiffusionOptions(), progress=False)
    model = MVGRLGraph(mutag.num_features, 8, num_layers=1)
    with pytest.raises(ValueError, match="no batch held two graphs"):
        train_graph_model(model, graphs, GraphTrainConfig(epochs=2, hidden_channels=8, num_layers=1),
                          progress=False)


def test_metrics_lines_are_strict_json(tmp_path):
    from graphrep.experiment import _Metrics

    path = tmp_path / "metrics.jsonl"
    _Metrics(path).write({"config": "L2-B128-E0", "best_epoch": -1, "best_loss": float("inf")})
    assert json.loads(path.read_text(), parse_constant=lambda c: pytest.fail(c)) == {
        "config": "L2-B128-E0", "best_epoch": -1, "best_loss": None}
