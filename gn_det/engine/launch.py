"""Start training in one or several processes, on GPUs or on CPUs.

* One process: ``main_func`` runs here.
* GPUs: detectron2's ``launch`` (one process per GPU, NCCL).
* CPUs: one process per ``--num-gpus`` slot, gloo backend; detectron2's launch asserts CUDA.
* torchrun: the processes exist already; each joins the group torchrun describes in its
  environment (gloo on CPU, NCCL on GPU). Works for several machines too.

A user error (:data:`gn_det.errors.USER_ERRORS`: config, data, weights) in a started process is
handed to the launching process, which raises it as a GNDetError with the same one-line message
instead of a worker traceback.
"""
import functools
import os
import socket
import sys
from datetime import timedelta

import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from detectron2.engine import launch as detectron2_launch
from detectron2.utils import comm

from .. import compat
from ..errors import USER_ERRORS, GNDetError

# Time a process waits for the others at a collective call before failing.
DISTRIBUTED_TIMEOUT = timedelta(minutes=30)


def started_by_torchrun():
    return "LOCAL_RANK" in os.environ and "WORLD_SIZE" in os.environ


def _join_process_group(init_method, world_size, rank, local_rank, processes_per_machine):
    use_cuda = torch.cuda.is_available()
    if use_cuda:
        torch.cuda.set_device(local_rank)
    dist.init_process_group("nccl" if use_cuda else "gloo", init_method=init_method,
                            world_size=world_size, rank=rank, timeout=DISTRIBUTED_TIMEOUT)
    compat.create_local_process_group(processes_per_machine)
    if not use_cuda:
        compat.allow_cpu_distributed_data_parallel()
    comm.synchronize()


def _leave_process_group():
    # Every process has finished: leave together, so that none exits while gloo still talks to
    # it (a process torn down with a live gloo group can abort with SIGABRT at exit).
    comm.synchronize()
    dist.destroy_process_group()


def _cpu_worker(local_rank, main_func, world_size, processes_per_machine, machine_rank, dist_url,
                args):
    rank = machine_rank * processes_per_machine + local_rank
    # Share the cores: each process running on all of them oversubscribes the CPU many times over.
    torch.set_num_threads(max(1, (os.cpu_count() or 1) // processes_per_machine))
    _join_process_group(dist_url, world_size, rank, local_rank, processes_per_machine)
    main_func(*args)
    _leave_process_group()


def _reporting_user_errors(errors, main_func, *args):
    # In a started process: a user error goes to the launching process, and this one exits.
    try:
        return main_func(*args)
    except USER_ERRORS as error:
        errors.put(str(error))
        sys.exit(1)


def _start_processes(main_func, processes_per_machine, num_machines, machine_rank, dist_url, args):
    world_size = processes_per_machine * num_machines
    if torch.cuda.is_available():
        detectron2_launch(main_func, processes_per_machine, num_machines=num_machines,
                          machine_rank=machine_rank, dist_url=dist_url, args=args)
        return
    if dist_url in (None, "auto"):
        if num_machines > 1:
            raise GNDetError("--dist-url is required for a job on several machines.")
        dist_url = f"tcp://127.0.0.1:{_free_local_port()}"
    mp.spawn(_cpu_worker, nprocs=processes_per_machine, daemon=False,
             args=(main_func, world_size, processes_per_machine, machine_rank, dist_url, args))


def launch(main_func, processes_per_machine, num_machines=1, machine_rank=0, dist_url=None,
           args=()):
    """Run ``main_func(*args)`` in every process of the job (detectron2's signature)."""
    if started_by_torchrun():
        _join_process_group("env://", int(os.environ["WORLD_SIZE"]), int(os.environ["RANK"]),
                            int(os.environ["LOCAL_RANK"]),
                            int(os.environ.get("LOCAL_WORLD_SIZE", os.environ["WORLD_SIZE"])))
        result = main_func(*args)
        _leave_process_group()
        return result
    if processes_per_machine * num_machines == 1:
        return main_func(*args)
    errors = mp.get_context("spawn").SimpleQueue()
    try:
        _start_processes(functools.partial(_reporting_user_errors, errors, main_func),
                         processes_per_machine, num_machines, machine_rank, dist_url, args)
    except mp.ProcessExitedException:
        if errors.empty():
            raise
        raise GNDetError(errors.get()) from None


def _free_local_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
