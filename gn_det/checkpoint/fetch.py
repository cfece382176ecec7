"""Turning ``MODEL.WEIGHTS`` into a local file: the cache first, then one short download try.

Downloads land in a cache folder (``$GN_DET_WEIGHTS_CACHE``, default ``~/.torch/gn_det``) at a
path made from the URL (:func:`cached_path`), so a file fetched once, or copied there by hand on
an offline machine, is used without network. When the download fails (offline, firewall, 404) the
error says which URL was tried and how to pass the file by hand instead; nothing hangs.
"""
import http.client
import os
import shutil
import tempfile
import urllib.parse
import urllib.request

from ..errors import GNDetError
from .catalog import url_of

CACHE_ENV_VAR = "GN_DET_WEIGHTS_CACHE"
DEFAULT_CACHE_DIR = os.path.join("~", ".torch", "gn_det")

# Seconds to wait for the server to answer (connect, then each read) before giving up.
DOWNLOAD_TIMEOUT_S = 15


class WeightsUnavailableError(GNDetError, OSError):
    """Weights named by a URL or handle that are not cached and cannot be downloaded."""


def cache_dir():
    """The folder holding downloaded weights: ``$GN_DET_WEIGHTS_CACHE`` or ``~/.torch/gn_det``."""
    return os.path.expanduser(os.environ.get(CACHE_ENV_VAR) or DEFAULT_CACHE_DIR)


def cached_path(url):
    """Where the cache keeps ``url``: its host and path under :func:`cache_dir`.

    Several of FAIR's files share a basename (``model_final.pkl``), so the whole path is kept.
    """
    parts = urllib.parse.urlsplit(url)
    return os.path.join(cache_dir(), parts.netloc, *parts.path.strip("/").split("/"))


def download(url, destination, timeout_s=DOWNLOAD_TIMEOUT_S):
    """Write ``url`` to ``destination`` (through a temporary file, so no partial file is left)."""
    folder = os.path.dirname(destination)
    os.makedirs(folder, exist_ok=True)
    with urllib.request.urlopen(url, timeout=timeout_s) as response, tempfile.NamedTemporaryFile(
        dir=folder, suffix=".part", delete=False
    ) as partial:
        try:
            shutil.copyfileobj(response, partial)
        except BaseException:
            os.unlink(partial.name)
            raise
    os.replace(partial.name, destination)


def local_weights_path(weights):
    """A local file holding ``weights`` (a path, URL, catalog handle or detectron2 scheme)."""
    if os.path.isfile(weights):
        return weights
    url = url_of(weights)
    if url is None:
        raise FileNotFoundError(
            f"Weights file not found: {weights}. MODEL.WEIGHTS takes a local file, an http(s) URL, "
            "a detectron2:// or catalog:// name, or a gn_det handle (gn_det.checkpoint.catalog)."
        )
    destination = cached_path(url)
    if not os.path.isfile(destination):
        try:
            download(url, destination)
        except (OSError, http.client.HTTPException) as error:
            raise WeightsUnavailableError(
                _unavailable_message(weights, url, destination, error)) from error
    return destination


def _unavailable_message(weights, url, destination, error):
    named = "" if weights == url else f" (for {weights})"
    basename = os.path.basename(destination)
    return (
        f"Cannot download {url}{named}: {error}. This machine may be offline. Download the file "
        f"elsewhere, then pass the local file: MODEL.WEIGHTS /path/to/{basename} - or put it at "
        f"{destination} (cache folder: ${CACHE_ENV_VAR}, default {DEFAULT_CACHE_DIR})."
    )
