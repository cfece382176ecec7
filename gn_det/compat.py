"""Everything that differs between detectron2 releases, in one place.

gn_det supports two detectron2 installations:

* ``pb1-detectron2==0.6`` from PyPI: detectron2 v0.6's Python sources built without the optional
  C++ extension ``detectron2._C`` (see ``tools/install_detectron2.py``). On today's numpy, Pillow
  and torch it needs the small fixes below.
* detectron2 built from source (distribution name ``detectron2``), e.g. upstream main with its C++
  extension (``make test-upstream``). :func:`apply` does not touch it; the helpers below call
  whichever API the installed version has.

``import gn_det`` applies :func:`apply` before anything imports ``detectron2`` submodules. Each fix
checks that it is needed, so calling :func:`apply` twice, or on an installation that does not need
it, does nothing.
"""
import importlib.metadata
import inspect
import sys
import types
import warnings

import numpy as np
from PIL import Image

# The PyPI distribution that ships detectron2 v0.6 without its C++ extension.
PB1_DISTRIBUTION = "pb1-detectron2"

# Modules that call torch.jit.script at import, which torch >= 2.10 deprecates with a FutureWarning
# per call: fvcore's focal losses and detectron2's Box2BoxTransform classes.
_MODULES_SCRIPTED_AT_IMPORT = ("fvcore.nn.focal_loss", "detectron2.modeling.box_regression")

# numpy aliases removed in numpy 1.24 that detectron2 v0.6 still uses at call time.
_REMOVED_NUMPY_ALIASES = {"int": int, "float": float, "str": str, "object": object, "bool": bool}

# detectron2 v0.6 modules whose functions use the removed numpy aliases.
_MODULES_USING_NUMPY_ALIASES = (
    "detectron2.data.build",
    "detectron2.data.datasets.pascal_voc",
    "detectron2.evaluation.pascal_voc_evaluation",
    "detectron2.evaluation.sem_seg_evaluation",
    "detectron2.structures.masks",
    "detectron2.utils.visualizer",
    "detectron2.utils.video_visualizer",
)

_MISSING_EXTENSION_MESSAGE = (
    "detectron2 was installed without its C++ extension (detectron2._C), so '{name}' is "
    "unavailable. gn_det's models do not need it (RoIAlign and NMS come from torchvision, COCO "
    "evaluation from pycocotools). To use deformable convolutions, rotated boxes or detectron2's "
    "fast COCO evaluation, build detectron2 from source: "
    "pip install --no-build-isolation 'git+https://github.com/facebookresearch/detectron2.git'"
)


def installed_detectron2_distribution():
    """Name of the installed distribution that provides ``detectron2``, or None."""
    for name in (PB1_DISTRIBUTION, "detectron2"):
        try:
            importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
        return name
    return None


def needs_v06_fixes(distribution):
    """True when ``distribution`` is the PyPI v0.6 copy of detectron2 that needs the fixes here."""
    return distribution == PB1_DISTRIBUTION


class _MissingExtension(types.ModuleType):
    """Stands in for ``detectron2._C``: importing it works, using any operator raises."""

    def __init__(self):
        super().__init__("detectron2._C")
        self.__file__ = None

    def get_compiler_version(self):
        return "not built (detectron2 installed without its C++ extension)"

    def get_cuda_version(self):
        return "not built"

    def has_cuda(self):
        return False

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        raise RuntimeError(_MISSING_EXTENSION_MESSAGE.format(name=f"detectron2._C.{name}"))


class _NumpyWithRemovedAliases(types.ModuleType):
    """numpy, plus the aliases (np.int, np.float, ...) that numpy 1.24 removed."""

    def __init__(self):
        super().__init__("numpy")

    def __getattr__(self, name):
        if name in _REMOVED_NUMPY_ALIASES and not hasattr(np, name):
            return _REMOVED_NUMPY_ALIASES[name]
        return getattr(np, name)


def has_cpp_extension():
    """True when ``detectron2._C`` is a real compiled extension."""
    module = sys.modules.get("detectron2._C")
    if module is not None:
        return not isinstance(module, _MissingExtension)
    try:
        import detectron2._C  # noqa: F401
    except ImportError:
        return False
    return True


def _install_missing_extension_stub():
    if has_cpp_extension():
        return
    import detectron2

    stub = _MissingExtension()
    sys.modules["detectron2._C"] = stub
    detectron2._C = stub


def _restore_pillow_linear():
    # Pillow 10 removed Image.LINEAR; v0.6 uses it as a default argument at import time.
    if not hasattr(Image, "LINEAR"):
        Image.LINEAR = Image.BILINEAR


def _give_numpy_aliases_to_detectron2_modules():
    import importlib

    proxy = _NumpyWithRemovedAliases()
    for module_name in _MODULES_USING_NUMPY_ALIASES:
        module = importlib.import_module(module_name)
        if module.np is np:
            module.np = proxy


def _import_without_jit_script_warnings():
    # Every tool printed these FutureWarnings first, even for --help; they are about fvcore's and
    # detectron2's code, not the user's. Only these imports are silenced: a torch.jit.script call
    # anywhere later still warns.
    import importlib

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="`torch.jit.script` is", category=FutureWarning)
        for module_name in _MODULES_SCRIPTED_AT_IMPORT:
            importlib.import_module(module_name)


def apply():
    """Make the installed detectron2 work, and import quietly, on today's stack. The v0.6 fixes are
    a no-op where they are not needed."""
    v06 = needs_v06_fixes(installed_detectron2_distribution())
    if v06:
        _install_missing_extension_stub()
        _restore_pillow_linear()
    _import_without_jit_script_warnings()  # after the stub: detectron2.modeling imports _C
    if v06:
        _give_numpy_aliases_to_detectron2_modules()


def evaluate_predictions_on_coco(coco_gt, coco_results, iou_type, use_fast_impl, **kwargs):
    """detectron2's ``_evaluate_predictions_on_coco``, computed by detectron2's C++ COCOeval_opt
    (``use_fast_impl``) or by pycocotools' COCOeval. v0.6 takes ``use_fast_impl=``; newer
    detectron2 takes the class as ``cocoeval_fn=`` instead."""
    from detectron2.evaluation import coco_evaluation

    evaluate = coco_evaluation._evaluate_predictions_on_coco
    if "cocoeval_fn" in inspect.signature(evaluate).parameters:
        fast, official = coco_evaluation.COCOeval_opt, coco_evaluation.COCOeval
        kwargs["cocoeval_fn"] = fast if use_fast_impl else official
    else:
        kwargs["use_fast_impl"] = use_fast_impl
    return evaluate(coco_gt, coco_results, iou_type, **kwargs)


def create_local_process_group(processes_per_machine):
    """Tell detectron2 which ranks share this machine (newer detectron2 has a function for it)."""
    import torch.distributed as dist
    from detectron2.utils import comm

    if hasattr(comm, "create_local_process_group"):
        comm.create_local_process_group(processes_per_machine)
        return
    rank = dist.get_rank()
    for machine in range(dist.get_world_size() // processes_per_machine):
        ranks = list(range(machine * processes_per_machine, (machine + 1) * processes_per_machine))
        group = dist.new_group(ranks)  # every rank must create every group
        if rank in ranks:
            comm._LOCAL_PROCESS_GROUP = group


def allow_cpu_distributed_data_parallel():
    """Let DefaultTrainer wrap a CPU model in DDP (for gloo runs on CPU processes).

    detectron2's ``create_ddp_model`` always passes ``device_ids=[local rank]``, which DDP refuses
    for a CPU module. Only the CPU workers of :mod:`gn_det.engine.launch` call this.
    """
    from detectron2.engine import defaults

    create_ddp_model = defaults.create_ddp_model
    if getattr(create_ddp_model, "allows_cpu", False):
        return

    def create_ddp_model_on_any_device(model, **kwargs):
        if next(model.parameters()).device.type == "cpu":
            kwargs.setdefault("device_ids", None)
        return create_ddp_model(model, **kwargs)

    create_ddp_model_on_any_device.allows_cpu = True
    defaults.create_ddp_model = create_ddp_model_on_any_device


def tracing_adapter_class():
    """detectron2's ``TracingAdapter``. v0.6's ``detectron2.export`` imports caffe2 (no longer part
    of torch) unconditionally; newer detectron2 makes it optional. Without caffe2, the package is
    registered without running its ``__init__``, and its ``flatten`` module imported alone."""
    import importlib
    import os

    try:
        from detectron2.export import TracingAdapter
    except ModuleNotFoundError as error:
        if error.name != "caffe2":
            raise
        import detectron2

        package = types.ModuleType("detectron2.export")
        package.__path__ = [os.path.join(os.path.dirname(detectron2.__file__), "export")]
        sys.modules["detectron2.export"] = package
        TracingAdapter = importlib.import_module("detectron2.export.flatten").TracingAdapter
        package.TracingAdapter = TracingAdapter
    return TracingAdapter
