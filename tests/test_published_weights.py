"""Every preset's MODEL.WEIGHTS names a file that was really published, in a format gn_det reads.

The list of published URLs below is written from the pages that publish them, not from gn_det's
catalog. detectron2's own path handlers (``detectron2://``, ``catalog://``) resolve each preset's
WEIGHTS, so the test checks the URL that would really be downloaded.
"""
import os
import urllib.error

import pytest
import torch
import torchvision
from detectron2.checkpoint import catalog as detectron2_catalog  # noqa: F401  (catalog:// handler)
from detectron2.modeling import build_model
from detectron2.utils.file_io import PathManager
from iopath.common.file_io import HTTPURLHandler
from torch import nn

from conftest import preset_cfg, preset_paths
from gn_det.checkpoint import WeightsUnavailableError, fetch, load_weights, local_weights_path
from gn_det.checkpoint.catalog import url_of
from gn_det.config import load_config

# URL -> where it is published.
PUBLISHED = {
    "https://dl.fbaipublicfiles.com/detectron/ImageNetPretrained/47261647/R-50-GN.pkl":
        "Detectron projects/GN/README.md, 'Pretrained Models with GN' (R-50-GN.pkl, 24.0% top-1 "
        "error); detectron2 MODEL_ZOO.md, 'ImageNet Pretrained Models'",
    "https://dl.fbaipublicfiles.com/detectron/ImageNetPretrained/47592356/R-101-GN.pkl":
        "Detectron projects/GN/README.md, 'Pretrained Models with GN' (R-101-GN.pkl, 22.6% top-1 "
        "error); detectron2 MODEL_ZOO.md, 'ImageNet Pretrained Models'",
    "https://dl.fbaipublicfiles.com/detectron2/ImageNetPretrained/MSRA/R-50.pkl":
        "detectron2 MODEL_ZOO.md, 'ImageNet Pretrained Models' (MSRA's original ResNet-50)",
    "https://dl.fbaipublicfiles.com/detectron2/ImageNetPretrained/MSRA/R-101.pkl":
        "detectron2 MODEL_ZOO.md, 'ImageNet Pretrained Models' (MSRA's original ResNet-101)",
    "https://download.openmmlab.com/pretrain/third_party/resnet50_gn_ws-15beedd8.pth":
        "mmcv mmcv/model_zoo/open_mmlab.json, 'jhu/resnet50_gn_ws' (the WS authors' ImageNet "
        "ResNet-50 with GN+WS), which mmdetection configs/gn+ws load as "
        "open-mmlab://jhu/resnet50_gn_ws",
}
GN_WS_PRESET = "mask_rcnn_R50_FPN_gnws.yaml"


def preset_weights():
    """(preset file name, MODEL.WEIGHTS) of every preset that starts from pretrained weights."""
    found = []
    for path in preset_paths():
        weights = load_config(path, ["MODEL.DEVICE", "cpu"]).MODEL.WEIGHTS
        if weights:
            found.append((os.path.basename(path), weights))
    return found


PRESET_WEIGHTS = preset_weights()


def detectron2_download(weights, monkeypatch):
    """The URLs detectron2's PathManager would download to get ``weights`` (nothing is fetched)."""
    requested = []

    def record(handler, path, **kwargs):
        requested.append(path)
        return os.devnull

    monkeypatch.setattr(HTTPURLHandler, "_get_local_path", record)
    PathManager.get_local_path(weights)
    return requested


def test_presets_with_pretrained_weights_are_found():
    names = {name for name, _ in PRESET_WEIGHTS}
    assert {"mask_rcnn_R50_FPN_gn.yaml", "mask_rcnn_R50_C4_gn.yaml", "mask_rcnn_R101_FPN_gn.yaml",
            GN_WS_PRESET, "mask_rcnn_R50_FPN_bnfrozen.yaml"} <= names


@pytest.mark.parametrize("name, weights", PRESET_WEIGHTS, ids=[n for n, _ in PRESET_WEIGHTS])
def test_preset_weights_resolve_to_a_published_url(name, weights, monkeypatch):
    requested = detectron2_download(weights, monkeypatch)

    assert len(requested) == 1 and requested[0] in PUBLISHED, \
        f"{name}: MODEL.WEIGHTS {weights} downloads {requested}, which is not a published file"
    assert url_of(weights) == requested[0], "gn_det fetches another URL than detectron2 would"


@pytest.mark.parametrize("name, weights", PRESET_WEIGHTS, ids=[n for n, _ in PRESET_WEIGHTS])
def test_offline_message_names_the_published_url_and_a_local_path(name, weights, monkeypatch,
                                                                  tmp_path):
    def offline(url, destination, timeout_s=None):
        raise urllib.error.URLError("Temporary failure in name resolution")

    monkeypatch.setenv(fetch.CACHE_ENV_VAR, str(tmp_path))
    monkeypatch.setattr(fetch, "download", offline)

    with pytest.raises(WeightsUnavailableError) as error:
        local_weights_path(weights)

    message = str(error.value)
    published = [url for url in PUBLISHED if url in message]
    assert len(published) == 1
    assert f"MODEL.WEIGHTS /path/to/{os.path.basename(published[0])}" in message


def openmmlab_gn_resnet50_state_dict():
    """A ResNet-50 GN state dict named as OpenMMLab's ResNet names it.

    mmcv's build_norm_layer names a GroupNorm ``gn<postfix>`` (infer_abbr: GroupNorm -> "gn"), and
    mmdet's ResNet builds its stem norm and its bottleneck norms with postfixes 1, 1..3, the
    shortcut as ``downsample.0`` (conv) / ``downsample.1`` (norm): torchvision's layout with
    ``bn`` renamed ``gn``. The classifier ``fc`` is kept, as in the published file.
    """
    resnet = torchvision.models.resnet50(norm_layer=lambda channels: nn.GroupNorm(32, channels))
    state_dict = {}
    for name, tensor in resnet.state_dict().items():
        parts = name.split(".")
        parts = [("gn" + part[2:]) if part.startswith("bn") else part for part in parts]
        state_dict[".".join(parts)] = tensor + torch.rand_like(tensor)
    return state_dict


def test_gn_ws_preset_reads_the_published_files_naming(tmp_path):
    state_dict = openmmlab_gn_resnet50_state_dict()
    assert "gn1.weight" in state_dict and "layer1.0.gn3.bias" in state_dict
    path = str(tmp_path / "resnet50_gn_ws-15beedd8.pth")
    # The public loaders read checkpoint['state_dict'] and drop the 'fc.*' entries.
    torch.save({"state_dict": state_dict}, path)
    model = build_model(preset_cfg(GN_WS_PRESET))

    report = load_weights(model, path, strict_backbone=True)

    bottom_up = model.backbone.bottom_up
    assert torch.equal(bottom_up.stem.conv1.norm.weight, state_dict["gn1.weight"])
    assert torch.equal(bottom_up.res3[2].conv2.norm.bias, state_dict["layer2.2.gn2.bias"])
    assert torch.equal(bottom_up.res5[0].shortcut.norm.weight,
                       state_dict["layer4.0.downsample.1.weight"])
    assert set(report.ignored) == {"fc.weight", "fc.bias"}
    assert not report.unexpected and not report.hints
