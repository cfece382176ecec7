"""Atomic checkpoints: a process killed while writing one keeps the previous checkpoint and the
last_checkpoint pointer valid, and weights with NaN are never saved."""
import os
import signal

import pytest
import torch
from detectron2.checkpoint import DetectionCheckpointer
from torch import nn

from gn_det.engine import Trainer
from gn_det.engine.atomic_checkpoint import AtomicSaveMixin
from gn_det.errors import NonFiniteError
from test_tools_train_net import load_tool
from training_process import DEMO_CONFIG, TINY_RUN, last_checkpoint, start_training, wait_until

# Iterations of the run that is killed; it saves a checkpoint after each.
MAX_ITER = 30


class Checkpointer(AtomicSaveMixin, DetectionCheckpointer):
    pass


def saved(path):
    return torch.load(path, map_location="cpu", weights_only=True)


def test_save_writes_the_checkpoint_then_the_pointer_and_leaves_no_temporary(tmp_path):
    model = nn.Linear(3, 2)
    Checkpointer(model, str(tmp_path)).save("model_0000004", iteration=4)
    assert sorted(os.listdir(tmp_path)) == ["last_checkpoint", "model_0000004.pth"]
    assert last_checkpoint(tmp_path) == "model_0000004.pth"
    assert saved(tmp_path / "model_0000004.pth")["iteration"] == 4
    assert torch.equal(saved(tmp_path / "model_0000004.pth")["model"]["weight"], model.weight)


def test_files_of_an_interrupted_save_are_removed_by_the_next_save(tmp_path):
    (tmp_path / "model_0000009.pth.tmp").write_bytes(b"half a checkp")
    (tmp_path / "last_checkpoint.tmp").write_bytes(b"")
    (tmp_path / "notes.tmp").write_text("not ours")
    Checkpointer(nn.Linear(3, 2), str(tmp_path)).save("model_0000004")
    assert sorted(os.listdir(tmp_path)) == ["last_checkpoint", "model_0000004.pth", "notes.tmp"]


def test_weights_with_nan_are_not_saved_and_the_last_checkpoint_is_kept(tmp_path):
    model = nn.Linear(3, 2)
    checkpointer = Checkpointer(model, str(tmp_path))
    checkpointer.save("model_0000001")
    with torch.no_grad():
        model.bias[1] = float("nan")
    with pytest.raises(NonFiniteError, match="Not saving checkpoint model_0000003.pth: model "
                                             "weight bias holds NaN or Inf"):
        checkpointer.save("model_0000003")
    assert sorted(os.listdir(tmp_path)) == ["last_checkpoint", "model_0000001.pth"]
    assert last_checkpoint(tmp_path) == "model_0000001.pth"


def kill_while_writing_a_checkpoint(output, process, first):
    """SIGKILL ``process`` (which saves a checkpoint after every iteration) while it writes one,
    from checkpoint ``first`` on. Returns the iteration whose checkpoint it was writing, or None
    when that write finished before the kill landed."""
    for iteration in range(first, MAX_ITER):
        temporary = output / f"model_{iteration:07d}.pth.tmp"
        wait_until(lambda: temporary.exists() or (output / temporary.stem).exists(), process,
                   output, poll=0.0002)
        if temporary.exists():
            os.kill(process.pid, signal.SIGKILL)
            process.wait()
            return iteration if temporary.exists() else None
    raise AssertionError("no checkpoint write was seen")


def test_sigkill_while_a_checkpoint_is_written_keeps_the_previous_one_and_resumes(
        shapes_train_env, tmp_path):
    output = tmp_path / "run"
    overrides = ["SOLVER.CHECKPOINT_PERIOD", "1", "SOLVER.MAX_ITER", str(MAX_ITER)]
    interrupted = None
    for attempt in range(3):
        # Aim at the checkpoint after the first one (or, after a kill that came too late, after
        # the one the resumed run starts from), so that there is a previous one to keep.
        process = start_training(output, shapes_train_env, *overrides,
                                 flags=["--resume"] if attempt else [])
        wait_until(lambda: last_checkpoint(output) is not None, process, output)
        first = saved(output / last_checkpoint(output))["iteration"] + 1
        interrupted = kill_while_writing_a_checkpoint(output, process, first)
        if interrupted is not None:
            break
    assert interrupted is not None, "every kill landed after the write it aimed at had finished"

    previous = f"model_{interrupted - 1:07d}.pth"
    assert last_checkpoint(output) == previous
    assert saved(output / previous)["iteration"] == interrupted - 1
    assert not (output / f"model_{interrupted:07d}.pth").exists()

    train_net = load_tool("train_net")
    args = train_net.argument_parser().parse_args(
        ["--resume", "--config", DEMO_CONFIG, *TINY_RUN, "SOLVER.CHECKPOINT_PERIOD", "1",
         "SOLVER.MAX_ITER", str(interrupted + 1), "OUTPUT_DIR", str(output)])
    trainer = Trainer(train_net.setup(args))
    trainer.resume_or_load(resume=True)
    assert trainer.start_iter == interrupted
    trainer.train()
    assert last_checkpoint(output) == "model_final.pth"
    assert not list(output.glob("*.tmp"))
    assert saved(output / f"model_{interrupted:07d}.pth")["iteration"] == interrupted
