"""Classification pretraining of a detection config's ResNet on a dataset in ImageFolder layout.

One process, or one per GPU under torchrun (``WORLD_SIZE`` set: torch.distributed, NCCL on GPUs,
gloo on CPUs; BN statistics stay per process, as in the paper). Resumable at epoch boundaries:
``OUTPUT/checkpoint.pth`` holds the classifier, optimizer and epoch after every epoch, and each
epoch's data order and augmentation depend only on (seed, epoch), so an interrupted run that
resumes trains exactly what it would have. At the end: ``OUTPUT/model_final.pth`` (the ResNet for
MODEL.WEIGHTS) and ``OUTPUT/result.json`` (top-1 error on the val split; written last, so a run
with a result.json is finished and resuming it trains nothing).
"""
import contextlib
import dataclasses
import json
import math
import os
import time

import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader

from ..engine.atomic_checkpoint import write_atomically
from ..errors import ConfigError, DatasetError, NonFiniteError
from ..seeding import STEP, derive_seed
from .data import epoch_indices, image_folders, val_indices
from .model import ResNetClassifier, backbone_weights, norm_name, pretraining_config

CHECKPOINT = "checkpoint.pth"
WEIGHTS = "model_final.pth"
RESULT = "result.json"


@dataclasses.dataclass(frozen=True)
class Process:
    """This process's place in the run."""

    rank: int
    processes: int
    device: torch.device

    @property
    def main(self):
        return self.rank == 0


@contextlib.contextmanager
def joined_processes(cfg):
    """The :class:`Process` of this process: alone, or, when torchrun set WORLD_SIZE, a member of
    the process group (left on exit)."""
    if "WORLD_SIZE" not in os.environ:
        yield Process(0, 1, torch.device(cfg.MODEL.DEVICE))
        return
    local_rank = int(os.environ.get("LOCAL_RANK", 0))
    if torch.cuda.is_available():
        torch.cuda.set_device(local_rank)
        device = torch.device("cuda", local_rank)
    else:
        device = torch.device("cpu")
    dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    try:
        yield Process(dist.get_rank(), dist.get_world_size(), device)
        # Leave together: none exits while the main process still writes, or gloo talks to it.
        dist.barrier()
    finally:
        dist.destroy_process_group()


def _sum_over_processes(values, process):
    total = torch.tensor(values, dtype=torch.float64, device=process.device)
    if process.processes > 1:
        dist.all_reduce(total)
    return total.tolist()


def _save_json(path, data):
    write_atomically(path, lambda f: f.write(json.dumps(data, indent=1).encode("utf-8")))


def _loader(dataset, indices, recipe, workers, process):
    return DataLoader(dataset, batch_size=recipe.images_per_batch, sampler=indices,
                      num_workers=workers, drop_last=True, persistent_workers=False,
                      pin_memory=process.device.type == "cuda")


def _train_epoch(model, optimizer, dataset, recipe, epoch, workers, process):
    """One epoch; returns the mean training loss over all processes."""
    indices = epoch_indices(len(dataset), recipe.seed, epoch, process.rank, process.processes)
    steps = len(indices) // recipe.images_per_batch
    # The augmentation's random draws (and the loader workers' seeds) depend on (seed, epoch, rank).
    torch.manual_seed(derive_seed(recipe.seed, STEP, epoch, process.rank))
    model.train()
    loss_sum = 0.0
    for step, (images, labels) in enumerate(_loader(dataset, indices, recipe, workers, process)):
        for group in optimizer.param_groups:
            group["lr"] = recipe.lr_at(epoch * steps + step, recipe.epochs * steps,
                                       process.processes)
        loss = torch.nn.functional.cross_entropy(
            model(images.to(process.device, non_blocking=True)),
            labels.to(process.device, non_blocking=True))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        loss_sum += loss.item()
    total, count = _sum_over_processes([loss_sum, steps], process)
    return total / count


@torch.no_grad()
def top1_error(model, dataset, recipe, workers, process):
    """Percentage of ``dataset``'s images (all of them, split between processes) whose top class
    is wrong."""
    model.eval()
    indices = val_indices(len(dataset), process.rank, process.processes)
    loader = DataLoader(dataset, batch_size=recipe.images_per_batch, sampler=indices,
                        num_workers=workers)
    wrong = 0
    for images, labels in loader:
        predicted = model(images.to(process.device)).argmax(dim=1).cpu()
        wrong += int((predicted != labels).sum())
    wrong, total = _sum_over_processes([wrong, len(indices)], process)
    return 100.0 * wrong / total


def _settings(cfg, data_dir, recipe, process):
    """What the run depends on (a resumed run must have the same), as result.json holds it."""
    settings = {"recipe": dataclasses.asdict(recipe), "processes": process.processes,
                "data": os.path.abspath(data_dir), "model": pretraining_config(cfg).MODEL.dump()}
    return json.loads(json.dumps(settings))


def _require_same_settings(saved, settings, path):
    for key, what in (("recipe", "options (epochs, batch, LR, crops, seed)"),
                      ("processes", "number of processes"), ("data", "--data"),
                      ("model", "model config")):
        if saved[key] != settings[key]:
            raise ConfigError(f"--resume: {path} comes from other {what} ({saved[key]!r:.80} "
                              f"there, {settings[key]!r:.80} now): pass the same, or another "
                              "--output to start anew.")


def _resume_state(output_dir, settings):
    """The checkpoint of an interrupted run with these settings, or None."""
    path = os.path.join(output_dir, CHECKPOINT)
    if not os.path.exists(path):
        return None
    state = torch.load(path, map_location="cpu", weights_only=True)
    _require_same_settings(state["settings"], settings, path)
    return state


def _start_fresh(output_dir):
    # A new run replaces the old run's files: its result must not outlive it.
    for name in (RESULT, WEIGHTS, CHECKPOINT):
        with contextlib.suppress(FileNotFoundError):
            os.remove(os.path.join(output_dir, name))


def finished_result(output_dir):
    """The result.json of a finished run in ``output_dir``, or None."""
    path = os.path.join(output_dir, RESULT)
    if not os.path.exists(path):
        return None
    with open(path) as f:
        return json.load(f)


def pretrain(cfg, data_dir, recipe, output_dir, resume=False, workers=0, log=print):
    """Pretrain detection config ``cfg``'s ResNet on ``data_dir`` (ImageFolder layout) with
    ``recipe``; write checkpoint.pth (each epoch), model_final.pth and result.json to
    ``output_dir`` and return the result. ``resume``: continue an interrupted run there, return a
    finished one's result without training. ``log`` prints progress (main process only)."""
    with joined_processes(cfg) as process:
        say = log if process.main else (lambda message: None)
        settings = _settings(cfg, data_dir, recipe, process)
        finished = finished_result(output_dir) if resume else None
        if finished:
            _require_same_settings(finished, settings, os.path.join(output_dir, RESULT))
            say(f"[pretrain] {output_dir} holds a finished run: nothing to train.")
            return finished
        train_set, val_set = image_folders(data_dir, cfg, recipe)
        if len(train_set) // process.processes < recipe.images_per_batch:
            raise DatasetError(f"{data_dir}/train has {len(train_set)} images: fewer than one "
                               f"batch of {recipe.images_per_batch} per process.")
        state = _resume_state(output_dir, settings) if resume else None
        if process.main:
            os.makedirs(output_dir, exist_ok=True)
            if state is None:
                _start_fresh(output_dir)
        torch.manual_seed(recipe.seed)
        classifier = ResNetClassifier(cfg, len(train_set.classes)).to(process.device)
        model = classifier
        if process.processes > 1:
            model = DistributedDataParallel(
                classifier, device_ids=[process.device.index] if process.device.type == "cuda"
                else None)
        optimizer = torch.optim.SGD(classifier.parameters(), lr=recipe.total_lr(process.processes),
                                    momentum=recipe.momentum, weight_decay=recipe.weight_decay)
        history = []
        if state is not None:
            classifier.load_state_dict(state["classifier"])
            optimizer.load_state_dict(state["optimizer"])
            history = state["history"]
            say(f"[pretrain] resuming {output_dir} after epoch {len(history)}/{recipe.epochs}")
        say(f"[pretrain] {norm_name(cfg)} ResNet-{cfg.MODEL.RESNETS.DEPTH}, "
            f"{len(train_set)} training images, {len(train_set.classes)} classes, "
            f"{process.processes} x {recipe.images_per_batch} images per step, "
            f"LR {recipe.total_lr(process.processes):g}, {recipe.epochs} epochs")
        for epoch in range(len(history), recipe.epochs):
            start = time.perf_counter()
            loss = _train_epoch(model, optimizer, train_set, recipe, epoch, workers, process)
            if not math.isfinite(loss):
                raise NonFiniteError(f"Pretraining diverged in epoch {epoch + 1}: the loss is "
                                     f"{loss}. Lower --lr; the last checkpoint is kept.")
            history.append({"epoch": epoch + 1, "loss": loss,
                            "seconds": time.perf_counter() - start})
            if process.main:
                write_atomically(os.path.join(output_dir, CHECKPOINT), lambda f: torch.save(
                    {"classifier": classifier.state_dict(), "optimizer": optimizer.state_dict(),
                     "history": history, "settings": settings}, f))
            say(f"[pretrain] epoch {epoch + 1}/{recipe.epochs}: loss {loss:.4f}, "
                f"{history[-1]['seconds']:.0f} s")
        # The module itself: DDP's forward is collective, and the shares of val differ by one.
        error = top1_error(classifier, val_set, recipe, workers, process)
        result = {"top1_error": error, "val_images": len(val_set),
                  "classes": len(train_set.classes), "norm": norm_name(cfg),
                  "depth": cfg.MODEL.RESNETS.DEPTH, "processes": process.processes,
                  "lr": recipe.total_lr(process.processes), "weights": WEIGHTS,
                  "seconds": sum(entry["seconds"] for entry in history), "history": history,
                  **settings}
        if process.main:
            write_atomically(os.path.join(output_dir, WEIGHTS),
                             lambda f: torch.save(backbone_weights(classifier, cfg), f))
            _save_json(os.path.join(output_dir, RESULT), result)
        say(f"[pretrain] top-1 error on {data_dir}/val: {error:.2f}% ({len(val_set)} images); "
            f"weights: {os.path.join(output_dir, WEIGHTS)}")
        return result
