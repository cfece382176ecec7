"""Weight files are read without running code from them, unless the user trusts them."""
import collections
import fractions
import os
import pickle

import numpy as np
import pytest
import torch

from gn_det.checkpoint import UnsafePickleError, read_weights_file
from gn_det.checkpoint.safe_pickle import TRUST_ENV_VAR


class RunsShellCommand:
    """A pickle payload: unpickling it calls os.system."""

    def __init__(self, command):
        self.command = command

    def __reduce__(self):
        return os.system, (self.command,)


def write_pickle(path, data, protocol=pickle.DEFAULT_PROTOCOL):
    with open(path, "wb") as file:
        pickle.dump(data, file, protocol=protocol)
    return str(path)


@pytest.fixture
def untrusted_environment(monkeypatch):
    monkeypatch.delenv(TRUST_ENV_VAR, raising=False)


@pytest.mark.parametrize("protocol", [2, 4, 5])
def test_numpy_arrays_scalars_and_ordered_dicts_load(tmp_path, untrusted_environment, protocol):
    data = {"blobs": collections.OrderedDict(conv1_w=np.arange(6, dtype=np.float32).reshape(2, 3)),
            "scale": np.float32(2.5), "cfg": "MODEL:\n  TYPE: generalized_rcnn\n"}
    path = write_pickle(tmp_path / "weights.pkl", data, protocol)

    loaded = read_weights_file(path)

    np.testing.assert_array_equal(loaded["blobs"]["conv1_w"], data["blobs"]["conv1_w"])
    assert isinstance(loaded["blobs"], collections.OrderedDict)
    assert loaded["scale"] == np.float32(2.5) and loaded["cfg"] == data["cfg"]


def test_python2_byte_strings_are_read_as_latin1(tmp_path, untrusted_environment):
    # Protocol 2 SHORT_BINSTRING opcodes, as Python 2 wrote Detectron's names and cfg.
    path = tmp_path / "py2.pkl"
    path.write_bytes(b"\x80\x02}q\x00U\x03cfgq\x01U\x04caf\xe9q\x02s.")

    assert read_weights_file(str(path)) == {"cfg": "caf\u00e9"}


def test_pickle_calling_os_system_is_refused_without_running(tmp_path, untrusted_environment):
    marker = tmp_path / "ran"
    path = write_pickle(tmp_path / "evil.pkl", {"blobs": RunsShellCommand(f"touch {marker}")})

    with pytest.raises(UnsafePickleError) as error:
        read_weights_file(path)

    message = str(error.value)
    assert f"'{os.system.__module__}.system'" in message and path in message
    assert f"{TRUST_ENV_VAR}=1" in message and "trust_pickles=True" in message
    assert "pass --trust-pickles to tools/convert_weights.py or tools/weights_coverage.py" in message
    assert not marker.exists()


def test_trusted_pickles_load_any_global(tmp_path, monkeypatch):
    path = write_pickle(tmp_path / "fraction.pkl", {"lr": fractions.Fraction(1, 3)})

    assert read_weights_file(path, trust_pickles=True)["lr"] == fractions.Fraction(1, 3)
    monkeypatch.setenv(TRUST_ENV_VAR, "1")
    assert read_weights_file(path)["lr"] == fractions.Fraction(1, 3)


def test_pth_goes_through_weights_only_torch_load(tmp_path, untrusted_environment):
    good = str(tmp_path / "model.pth")
    torch.save({"model": {"w": torch.ones(2)}, "iteration": 7}, good)
    bad = str(tmp_path / "custom.pth")
    torch.save({"model": {"w": torch.ones(2)}, "lr": fractions.Fraction(1, 3)}, bad)

    assert read_weights_file(good)["iteration"] == 7
    with pytest.raises(UnsafePickleError, match="'fractions.Fraction' from .*custom.pth"):
        read_weights_file(bad)
    assert read_weights_file(bad, trust_pickles=True)["lr"] == fractions.Fraction(1, 3)
