"""Running the ablations' runs: the plan (each distinct run once, pretraining before the
fine-tuning that needs it), the estimated wall time, and a pool of worker processes.

Runs are independent except that a fine-tuning run waits for its pretraining run. With more than
one worker, each run trains in a worker process with ``threads`` threads (small models use 2
cores better as 2 one-thread runs than as one 2-thread run); with one, in this process.
"""
import multiprocessing
import os
import time
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait

from ..pretraining import finished_result
from .runs import run_name, train_run
from .studies import Detection, Pretraining

# Seconds per training image on one thread of this project's machine (2 cores, 2026-12-02, each
# measured with another one-thread run on the other core): from-scratch detection of the ablation
# preset at 2 images per batch; fine-tuning (stem and res2 frozen); pretraining at 32 images per
# batch, and the extra per step (so smaller batches cost more per image).
DETECTION_SECONDS_PER_IMAGE = 0.063
FINE_TUNE_SECONDS_PER_IMAGE = 0.050
PRETRAINING_SECONDS_PER_IMAGE = 0.0026
PRETRAINING_SECONDS_PER_STEP = 0.015
# Evaluating a detection run: seconds per shapes_val image and to set up; classification val.
EVAL_SECONDS_PER_IMAGE = 0.08
EVAL_SETUP_SECONDS = 5.0
PRETRAINING_EVAL_SECONDS = 5.0
CLASSIFICATION_TRAIN_IMAGES = 6000


def plan(study_list, seeds):
    """({(study, cell, seed): run}, [distinct runs]): every run of every cell, seed by seed (all
    cells at seed 0 first, so that an interrupted run has whole seeds), pretraining runs first
    within a seed."""
    cells, distinct = {}, {}
    for seed in range(seeds):
        for study in study_list:
            for cell, make in study.cells.items():
                run = cells[study.name, cell, seed] = make(seed)
                if isinstance(run, Detection) and run.pretrained:
                    distinct.setdefault(run_name(run.pretrained), run.pretrained)
                distinct.setdefault(run_name(run), run)
    ordered = sorted(distinct.values(), key=lambda run: (run.seed, isinstance(run, Detection)))
    return cells, ordered


def unfinished(runs, runs_dir):
    """The runs of ``runs`` whose folder under ``runs_dir`` holds no result.json yet."""
    return [run for run in runs if finished_result(os.path.join(runs_dir, run_name(run))) is None]


def estimated_seconds(run, val_images):
    """One run's estimated seconds on one thread (the constants above)."""
    if isinstance(run, Pretraining):
        images = CLASSIFICATION_TRAIN_IMAGES * run.epochs
        steps = images / run.images_per_batch
        return (images * PRETRAINING_SECONDS_PER_IMAGE + steps * PRETRAINING_SECONDS_PER_STEP
                + PRETRAINING_EVAL_SECONDS)
    per_image = FINE_TUNE_SECONDS_PER_IMAGE if run.pretrained else DETECTION_SECONDS_PER_IMAGE
    return run.images * per_image + val_images * EVAL_SECONDS_PER_IMAGE + EVAL_SETUP_SECONDS


def estimated_wall_seconds(runs, val_images, workers):
    """Wall time of ``runs`` on ``workers`` workers: each run goes to the first free worker, in
    plan order (as :func:`run_all` hands them out)."""
    free_at = [0.0] * workers
    for run in runs:
        first = free_at.index(min(free_at))
        free_at[first] += estimated_seconds(run, val_images)
    return max(free_at)


def _worker_init(threads):
    import torch

    import gn_det  # noqa: F401  (fixes detectron2 v0.6 and registers gn_det's components)

    torch.set_num_threads(threads)


def _ready(run, done):
    return not (isinstance(run, Detection) and run.pretrained
                and run_name(run.pretrained) not in done)


def run_all(runs, runs_dir, classification_data, val_images, workers, threads, on_finished):
    """Train every unfinished run of ``runs``; ``on_finished(run, result, seconds)`` after each
    (also for those finished before). A failing run stops the others and raises its error."""
    done = {}
    for run in runs:
        result = finished_result(os.path.join(runs_dir, run_name(run)))
        if result is not None:
            done[run_name(run)] = result
            on_finished(run, result, 0.0)
    todo = [run for run in runs if run_name(run) not in done]
    args = (runs_dir, classification_data, val_images)
    if workers == 1:
        for run in todo:
            start = time.perf_counter()
            result = train_run(run, *args, threads=threads)
            on_finished(run, result, time.perf_counter() - start)
        return
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(workers, mp_context=context, initializer=_worker_init,
                             initargs=(threads,)) as pool:
        running = {}
        while todo or running:
            for run in [r for r in todo if _ready(r, done)][:workers - len(running)]:
                todo.remove(run)
                running[pool.submit(train_run, run, *args)] = (run, time.perf_counter())
            if not running:
                raise RuntimeError(f"{run_name(todo[0])} waits for a run that is not planned.")
            finished, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in finished:
                run, start = running.pop(future)
                try:
                    result = future.result()
                except BaseException:
                    for other in running:
                        other.cancel()
                    raise
                done[run_name(run)] = result
                on_finished(run, result, time.perf_counter() - start)
