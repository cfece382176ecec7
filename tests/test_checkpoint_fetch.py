"""Weights named by URL or handle: catalog, local cache, and a clear failure when offline.

The downloader is replaced in every test, so no network is attempted."""
import os
import urllib.error

import pytest
from torch import nn

from gn_det.checkpoint import (
    WEIGHTS_CATALOG,
    GNDetCheckpointer,
    WeightsUnavailableError,
    cached_path,
    fetch,
    local_weights_path,
    url_of,
)
from gn_det.checkpoint.catalog import DETECTRON_URL_PREFIX, UnknownCatalogEntryError
from gn_det.checkpoint.fetch import CACHE_ENV_VAR

GN_48616381 = (
    "https://dl.fbaipublicfiles.com/detectron/GN/48616381/04_2018_gn_baselines/"
    "e2e_mask_rcnn_R-50-FPN_2x_gn_0416.13_23_38.bTlTI97Q/output/train/"
    "coco_2014_train%3Acoco_2014_valminusminival/generalized_rcnn/model_final.pkl"
)


@pytest.fixture(autouse=True)
def cache_in_tmp(tmp_path, monkeypatch):
    monkeypatch.setenv(CACHE_ENV_VAR, str(tmp_path / "cache"))


@pytest.fixture
def offline(monkeypatch):
    def refuse(url, destination, timeout_s=None):
        raise urllib.error.URLError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(fetch, "download", refuse)


@pytest.fixture
def no_download_expected(monkeypatch):
    def fail(url, destination, timeout_s=None):
        raise AssertionError(f"unexpected download of {url}")

    monkeypatch.setattr(fetch, "download", fail)


def test_catalog_has_fair_gn_imagenet_and_mask_rcnn_weights():
    assert url_of("Detectron/ImageNetPretrained/R-50-GN") == \
        f"{DETECTRON_URL_PREFIX}/ImageNetPretrained/47261647/R-50-GN.pkl"
    assert url_of("Detectron/ImageNetPretrained/R-101-GN") == \
        f"{DETECTRON_URL_PREFIX}/ImageNetPretrained/47592356/R-101-GN.pkl"
    assert url_of("Detectron/GN/48616381") == GN_48616381
    for model_id in ("48616381", "48616724", "48734751", "48734779"):
        url = WEIGHTS_CATALOG[f"Detectron/GN/{model_id}"]
        assert url.startswith(f"{DETECTRON_URL_PREFIX}/GN/{model_id}/04_2018_gn_baselines/")
        assert url.endswith("/generalized_rcnn/model_final.pkl")


def test_detectron2_schemes_resolve_to_their_urls():
    assert url_of("detectron2://ImageNetPretrained/MSRA/R-50.pkl") == \
        "https://dl.fbaipublicfiles.com/detectron2/ImageNetPretrained/MSRA/R-50.pkl"
    assert url_of("catalog://ImageNetPretrained/FAIR/R-50-GN") == \
        url_of("Detectron/ImageNetPretrained/R-50-GN")
    with pytest.raises(UnknownCatalogEntryError, match="catalog://ImageNetPretrained/Nope"):
        url_of("catalog://ImageNetPretrained/Nope")


def test_offline_download_fails_fast_saying_how_to_pass_the_file(offline):
    with pytest.raises(WeightsUnavailableError) as error:
        local_weights_path("Detectron/GN/48616381")

    message = str(error.value)
    assert GN_48616381 in message and "Detectron/GN/48616381" in message
    assert "MODEL.WEIGHTS /path/to/model_final.pkl" in message
    assert cached_path(GN_48616381) in message


def test_checkpointer_load_of_a_url_fails_the_same_way_offline(offline):
    checkpointer = GNDetCheckpointer(nn.Linear(1, 1))

    with pytest.raises(WeightsUnavailableError, match="47261647/R-50-GN.pkl"):
        checkpointer.load("catalog://ImageNetPretrained/FAIR/R-50-GN")


def test_cached_file_is_used_without_network(no_download_expected):
    path = cached_path(GN_48616381)
    os.makedirs(os.path.dirname(path))
    open(path, "wb").close()

    assert local_weights_path("Detectron/GN/48616381") == path


def test_downloaded_file_is_kept_in_the_cache(monkeypatch):
    downloads = []

    def download(url, destination, timeout_s=None):
        downloads.append(url)
        os.makedirs(os.path.dirname(destination), exist_ok=True)
        open(destination, "wb").close()

    monkeypatch.setattr(fetch, "download", download)

    first = local_weights_path("Detectron/ImageNetPretrained/R-50-GN")
    second = local_weights_path("Detectron/ImageNetPretrained/R-50-GN")

    assert first == second == cached_path(url_of("Detectron/ImageNetPretrained/R-50-GN"))
    assert len(downloads) == 1


def test_download_writes_the_whole_file_through_a_temporary_one(tmp_path):
    source = tmp_path / "R-50-GN.pkl"
    source.write_bytes(b"weights" * 1000)
    destination = tmp_path / "cache" / "R-50-GN.pkl"

    fetch.download(source.as_uri(), str(destination))

    assert destination.read_bytes() == source.read_bytes()
    assert os.listdir(destination.parent) == ["R-50-GN.pkl"]


def test_local_path_is_used_as_is_and_a_missing_one_is_named(tmp_path, no_download_expected):
    weights = tmp_path / "model.pth"
    weights.write_bytes(b"")

    assert local_weights_path(str(weights)) == str(weights)
    with pytest.raises(FileNotFoundError, match="Weights file not found: .*missing.pth"):
        local_weights_path(str(tmp_path / "missing.pth"))
