"""Reading weight files without letting them run code.

A pickle can call any importable function while it is read (``os.system`` through
``__reduce__``), so weight files are read with an allow-list:

* ``.pkl`` (Detectron/Caffe2 and detectron2 model zoo files): :class:`WeightsUnpickler`, which
  rebuilds numpy arrays, numpy scalars and ``OrderedDict`` and refuses every other global.
  Detectron's files were written by Python 2, so strings are decoded as latin1.
* anything else (``.pth``): ``torch.load(weights_only=True)``, PyTorch's own allow-list.

Opt-out for files you trust: ``--trust-pickles`` (tools/convert_weights.py,
tools/weights_coverage.py), ``GN_DET_TRUST_PICKLES=1`` in the environment (every run), or
``trust_pickles=True`` to :class:`gn_det.checkpoint.GNDetCheckpointer`; such files are then read
with plain ``pickle`` or ``torch.load(weights_only=False)``.
"""
import codecs
import collections
import os
import pickle
import re

import numpy as np
import torch

from ..errors import GNDetError

try:
    from numpy._core import multiarray as _multiarray  # numpy >= 2
    from numpy._core import numeric as _numeric
except ImportError:
    from numpy.core import multiarray as _multiarray
    from numpy.core import numeric as _numeric

# Environment variable that, set to 1, trusts every weight file (no allow-list).
TRUST_ENV_VAR = "GN_DET_TRUST_PICKLES"

PICKLE_EXTENSIONS = (".pkl", ".pickle")

# The globals a file made only of numpy arrays and containers refers to. numpy 1.x writes
# ``numpy.core``, numpy 2 ``numpy._core``; pickle protocol 5 rebuilds arrays with _frombuffer.
_ALLOWED_GLOBALS = {
    (module, name): target
    for modules, name, target in (
        (("numpy.core.multiarray", "numpy._core.multiarray"), "_reconstruct",
         _multiarray._reconstruct),
        (("numpy.core.multiarray", "numpy._core.multiarray"), "scalar", _multiarray.scalar),
        (("numpy.core.numeric", "numpy._core.numeric"), "_frombuffer", _numeric._frombuffer),
        (("numpy",), "ndarray", np.ndarray),
        (("numpy",), "dtype", np.dtype),
        (("collections",), "OrderedDict", collections.OrderedDict),
        # Python 3 writes bytes (the arrays' data) as _codecs.encode(text, "latin1") in protocol 2.
        (("_codecs",), "encode", codecs.encode),
    )
    for module in modules
}


class UnsafePickleError(GNDetError, pickle.UnpicklingError):
    """A weight file refers to code that the allow-list does not permit."""


def trusted_by_environment():
    """True when ``GN_DET_TRUST_PICKLES=1`` asks to read every weight file without an allow-list."""
    return os.environ.get(TRUST_ENV_VAR, "") == "1"


def _refusal(what, path):
    return (
        f"Refusing to load {what} from {path}: weight files may only hold arrays, tensors and "
        f"plain containers, and loading this one could run arbitrary code. If you trust the file: "
        f"pass --trust-pickles to tools/convert_weights.py or tools/weights_coverage.py; for "
        f"training and the other tools set {TRUST_ENV_VAR}=1 in the environment; in Python pass "
        f"trust_pickles=True to GNDetCheckpointer."
    )


class WeightsUnpickler(pickle.Unpickler):
    """Unpickler that rebuilds numpy arrays and containers and refuses every other global."""

    def __init__(self, file, path):
        super().__init__(file, encoding="latin1")
        self._path = path

    def find_class(self, module, name):
        try:
            return _ALLOWED_GLOBALS[(module, name)]
        except KeyError:
            raise UnsafePickleError(_refusal(f"the global '{module}.{name}'", self._path)) from None


def load_pickle(path, trust=False):
    """Read a ``.pkl`` file; through :class:`WeightsUnpickler` unless ``trust``."""
    with open(path, "rb") as file:
        if trust:
            return pickle.load(file, encoding="latin1")
        return WeightsUnpickler(file, path).load()


def load_torch_file(path, trust=False):
    """Read a ``torch.save`` file on the CPU; with ``weights_only=True`` unless ``trust``."""
    try:
        return torch.load(path, map_location="cpu", weights_only=not trust)
    except pickle.UnpicklingError as error:
        if trust:
            raise
        refused_global = re.search(r"GLOBAL ([\w.]+)", str(error))
        what = (f"the global '{refused_global[1]}'" if refused_global
                else "an object that torch.load(weights_only=True) refuses")
        raise UnsafePickleError(_refusal(what, path)) from None


def read_weights_file(path, trust_pickles=None):
    """The object stored in a weight file; ``trust_pickles`` None follows the environment."""
    trust = trusted_by_environment() if trust_pickles is None else trust_pickles
    if path.endswith(PICKLE_EXTENSIONS):
        return load_pickle(path, trust)
    return load_torch_file(path, trust)
