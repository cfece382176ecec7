"""A NaN loss stops training at once, naming the iteration and the loss term, with the last good
checkpoint kept and no checkpoint of the diverged weights; all processes of a run stop together."""
import gn_det  # noqa: F401  (first, also in the processes spawned here: fixes detectron2 v0.6)
import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from detectron2.engine import HookBase
from detectron2.utils.events import EventStorage
from torch import nn

from gn_det.engine import Trainer
from gn_det.engine.finite_losses import stop_on_non_finite_losses
from gn_det.errors import NonFiniteError
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
    """A "model" whose loss_b is NaN in the process of rank ``nan_rank``."""

    def __init__(self, nan_rank):
        super().__init__()
        self.nan_rank = nan_rank

    def forward(self):
        nan = dist.get_rank() == self.nan_rank
        return {"loss_a": torch.tensor(1.0), "loss_b": torch.tensor(float("nan") if nan else 2.0)}


def run_two_losses(rank, tmp_path):
    dist.init_process_group("gloo", init_method=f"file://{tmp_path / 'rendezvous'}", rank=rank,
                            world_size=2)
    model = TwoLosses(nan_rank=1)
    stop_on_non_finite_losses(model)
    with EventStorage(7):
        try:
            model()
            outcome = "went on"
        except NonFiniteError as error:
            outcome = str(error)
    (tmp_path / f"rank{rank}.txt").write_text(outcome)
    # Leave together: a process exiting with a live gloo group can abort (SIGABRT) at exit.
    dist.barrier()
    dist.destroy_process_group()


def test_a_nan_loss_in_one_process_stops_every_process_with_the_same_message(tmp_path):
    mp.spawn(run_two_losses, args=(tmp_path,), nprocs=2)
    messages = {(tmp_path / f"rank{rank}.txt").read_text() for rank in (0, 1)}
    assert len(messages) == 1
    assert messages.pop().startswith("Non-finite loss at iteration 7: loss_b = nan on rank 1.")
