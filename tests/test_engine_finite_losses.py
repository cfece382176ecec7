"""A NaN loss, a loss above GN_DET.MAX_LOSS or detectron2's "Training has diverged" stops training
at once, naming the iteration and the loss term, with the last good checkpoint kept and no
checkpoint of the diverged weights; all processes of a run stop together; the stop is one line,
without the traceback that detectron2's train loop logs for other errors."""
import logging

import gn_det  # noqa: F401  (first, also in the processes spawned here: fixes detectron2 v0.6)
import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from detectron2.engine import HookBase
from detectron2.utils.events import EventStorage
from torch import nn

from gn_det.engine import Trainer
from gn_det.engine.finite_losses import stop_on_diverged_predictions, stop_on_diverging_losses
from gn_det.errors import ConfigError, NonFiniteError
from test_tools_train_net import load_tool
from training_process import DEMO_CONFIG, TINY_RUN, last_checkpoint


class PoisonClassifierAt(HookBase):
    """Fault injection: before iteration ``iteration``, a NaN in the box classifier's bias (as
    diverged weights would have), which makes loss_cls NaN and no other loss term."""

    def __init__(self, iteration):
        self.iteration = iteration

    def before_step(self):
        if self.trainer.iter == self.iteration:
            with torch.no_grad():
                self.trainer.model.roi_heads.box_predictor.cls_score.bias[0] = float("nan")


def test_a_nan_loss_stops_training_naming_term_and_iteration_and_keeps_the_last_checkpoint(
        small_shapes, tmp_path):
    train_net = load_tool("train_net")
    output = tmp_path / "run"
    args = train_net.argument_parser().parse_args(
        ["--config", DEMO_CONFIG, *TINY_RUN, "SOLVER.MAX_ITER", "6",
         "SOLVER.CHECKPOINT_PERIOD", "2", "OUTPUT_DIR", str(output)])
    trainer = Trainer(train_net.setup(args))
    trainer.register_hooks([PoisonClassifierAt(3)])
    trainer.resume_or_load(resume=False)

    with pytest.raises(NonFiniteError, match=r"^Non-finite loss at iteration 3: loss_cls = nan\. "
                                             r"Training stopped before this iteration's update"):
        trainer.train()

    # Iteration 3's checkpoint would have been written after its update: it never was.
    assert sorted(p.name for p in output.glob("*.pth")) == ["model_0000001.pth"]
    assert last_checkpoint(output) == "model_0000001.pth"
    weights = torch.load(output / "model_0000001.pth", weights_only=True)["model"]
    assert all(torch.isfinite(value).all() for value in weights.values())


class TwoLosses(nn.Module):
    """A "model" whose loss_b is NaN in the process of rank ``nan_rank``, or whose forward raises
    detectron2's FloatingPointError for NaN proposals there (``proposals_nan``)."""

    def __init__(self, nan_rank, proposals_nan=False):
        super().__init__()
        self.nan_rank = nan_rank
        self.proposals_nan = proposals_nan

    def forward(self):
        nan = dist.get_rank() == self.nan_rank
        if nan and self.proposals_nan:  # what detectron2's find_top_rpn_proposals raises
            raise FloatingPointError("Predicted boxes or scores contain Inf/NaN. Training has "
                                     "diverged.")
        return {"loss_a": torch.tensor(1.0), "loss_b": torch.tensor(float("nan") if nan else 2.0)}


def run_two_losses(rank, tmp_path):
    dist.init_process_group("gloo", init_method=f"file://{tmp_path / 'rendezvous'}", rank=rank,
                            world_size=2)
    for case, proposals_nan in (("loss", False), ("proposals", True)):
        model = TwoLosses(nan_rank=1, proposals_nan=proposals_nan)
        stop_on_diverging_losses(model, max_loss=1.0e4)
        with EventStorage(7):
            try:
                with stop_on_diverged_predictions("cpu"):
                    model()
                outcome = "went on"
            except NonFiniteError as error:
                outcome = str(error)
        (tmp_path / f"{case}_rank{rank}.txt").write_text(outcome)
    # Leave together: a process exiting with a live gloo group can abort (SIGABRT) at exit.
    dist.barrier()
    dist.destroy_process_group()


def test_divergence_in_one_process_stops_every_process_with_the_same_message(tmp_path):
    mp.spawn(run_two_losses, args=(tmp_path,), nprocs=2)
    for case, start in (
            ("loss", "Non-finite loss at iteration 7: loss_b = nan on rank 1."),
            ("proposals", "Non-finite RPN proposals at iteration 7: detectron2 says 'Predicted "
                          "boxes or scores contain Inf/NaN. Training has diverged.' on rank 1.")):
        messages = {(tmp_path / f"{case}_rank{rank}.txt").read_text() for rank in (0, 1)}
        assert len(messages) == 1, case
        assert messages.pop().startswith(start)


class Losses(nn.Module):
    def __init__(self, **losses):
        super().__init__()
        self.losses = losses

    def forward(self):
        return {name: torch.tensor(value) for name, value in self.losses.items()}


@pytest.mark.parametrize("losses,max_loss,message", [
    ({"loss_cls": 0.7, "loss_box_reg": 4.7e14}, 1.0e4,
     r"^Loss above GN_DET\.MAX_LOSS at iteration 5: loss_box_reg = 4\.7e\+14 > GN_DET\.MAX_LOSS = "
     r"10000\. Training stopped before this iteration's update, so the last checkpoint is the "
     r"last good state; lower SOLVER\.BASE_LR.*then continue with --resume .*\(or raise "
     r"GN_DET\.MAX_LOSS if losses that large are expected\)\.$"),
    ({"loss_cls": 3.0, "loss_mask": 2.5}, 2.0,
     r"^Loss above GN_DET\.MAX_LOSS at iteration 5: loss_cls = 3 > GN_DET\.MAX_LOSS = 2, "
     r"loss_mask = 2\.5 > GN_DET\.MAX_LOSS = 2\. "),
    # A NaN is named first, an exploding term after it.
    ({"loss_cls": 5e4, "loss_mask": float("inf")}, 1.0e4,
     r"^Non-finite loss at iteration 5: loss_cls = 5e\+04 > GN_DET\.MAX_LOSS = 10000, "
     r"loss_mask = inf\. "),
])
def test_a_loss_above_the_bound_or_non_finite_stops_naming_each_term(losses, max_loss, message):
    model = Losses(**losses)
    stop_on_diverging_losses(model, max_loss)
    with EventStorage(5), pytest.raises(NonFiniteError, match=message):
        model()


def test_losses_at_the_bound_and_outputs_in_evaluation_mode_pass():
    at_bound, in_evaluation = Losses(loss_cls=1.0e4, loss_mask=0.0), Losses(loss_cls=float("nan"))
    for model in (at_bound, in_evaluation):
        stop_on_diverging_losses(model, max_loss=1.0e4)
    in_evaluation.eval()
    with EventStorage(5):
        at_bound()
        in_evaluation()


@pytest.mark.parametrize("max_loss", [0.0, -1.0])
def test_a_max_loss_that_is_not_positive_is_refused(max_loss):
    with pytest.raises(ConfigError, match=f"GN_DET.MAX_LOSS must be positive, got {max_loss}"):
        stop_on_diverging_losses(nn.Linear(1, 1), max_loss)


class RaiseAt(HookBase):
    """Fault injection: ``error()`` raised before iteration 0."""

    def __init__(self, error):
        self.error = error

    def before_step(self):
        raise self.error()


class PoisonProposalsAt(HookBase):
    """Fault injection: before iteration ``iteration``, NaN in the RPN's box deltas, which makes
    detectron2's find_top_rpn_proposals raise its FloatingPointError."""

    def __init__(self, iteration):
        self.iteration = iteration

    def before_step(self):
        if self.trainer.iter == self.iteration:
            with torch.no_grad():
                self.trainer.model.proposal_generator.rpn_head.anchor_deltas.bias.fill_(
                    float("nan"))


class Records(logging.Handler):
    def __init__(self):
        super().__init__()
        self.records = []

    def emit(self, record):
        self.records.append(record)


def trainer_of_one_iteration(output, *hooks):
    train_net = load_tool("train_net")
    args = train_net.argument_parser().parse_args(
        ["--config", DEMO_CONFIG, *TINY_RUN, "SOLVER.MAX_ITER", "1", "OUTPUT_DIR", str(output)])
    trainer = Trainer(train_net.setup(args))
    trainer.register_hooks(list(hooks))
    trainer.resume_or_load(resume=False)
    return trainer


@pytest.fixture
def train_loop_records():
    """What detectron2's train loop logs (its "Exception during training:" with a traceback)."""
    handler = Records()
    train_loop_logger = logging.getLogger("detectron2.engine.train_loop")
    train_loop_logger.addHandler(handler)
    yield handler.records
    train_loop_logger.removeHandler(handler)


def test_detectron2s_diverged_proposals_become_one_line_without_traceback(
        small_shapes, tmp_path, train_loop_records):
    trainer = trainer_of_one_iteration(tmp_path / "run", PoisonProposalsAt(0))
    with pytest.raises(NonFiniteError, match=r"^Non-finite RPN proposals at iteration 0: "
                                             r"detectron2 says 'Predicted boxes or scores contain "
                                             r"Inf/NaN\. Training has diverged\.'\. Training "
                                             r"stopped before this iteration's update.*lower "
                                             r"SOLVER\.BASE_LR"):
        trainer.train()
    assert [record for record in train_loop_records if record.exc_info] == []


def test_other_errors_keep_the_traceback_of_detectron2s_train_loop(small_shapes, tmp_path,
                                                                    train_loop_records):
    trainer = trainer_of_one_iteration(tmp_path / "run", RaiseAt(KeyError))
    with pytest.raises(KeyError):
        trainer.train()
    logged = [record for record in train_loop_records if record.exc_info]
    assert [record.getMessage() for record in logged] == ["Exception during training:"]
    assert logged[0].exc_info[0] is KeyError
