#!/usr/bin/env python
"""Install detectron2 v0.6 from PyPI's ``pb1-detectron2`` sdist, with its C++ extension switched off.

The sdist has detectron2's Python sources but not the C++/CUDA sources of ``detectron2._C``, and its
setup.py always declares that extension, so ``pip install pb1-detectron2`` fails. This script
downloads the sdist, builds a pure-Python wheel from it with the extension list emptied, and
installs that wheel into the running interpreter's environment. gn_det needs none of the ``_C``
operators (see gn_det/compat.py).

Usage: python tools/install_detectron2.py [-c constraints.txt] [--build-dir build/detectron2]
"""
import argparse
import glob
import os
import subprocess
import sys
import tarfile

REQUIREMENT = "pb1-detectron2"

# Runs the sdist's setup.py with ext_modules emptied; setup.py is not edited. Its package_data
# expects a top-level configs/ folder that the sdist lacks (the configs sit inside the package), so
# the model zoo configs (e.g. Misc/mask_rcnn_R_50_FPN_3x_gn.yaml) are named where they are.
_BUILD_WITHOUT_EXTENSION = """
import runpy, sys, setuptools
_setup = setuptools.setup
def _setup_without_extension(**kwargs):
    kwargs["ext_modules"] = []
    kwargs.pop("cmdclass", None)
    kwargs["package_data"] = {"detectron2.model_zoo": ["configs/**/*.yaml", "configs/**/*.py"]}
    return _setup(**kwargs)
setuptools.setup = _setup_without_extension
sys.argv = ["setup.py", "bdist_wheel", "--dist-dir", sys.argv[1]]
runpy.run_path("setup.py", run_name="__main__")
"""


def pip(*args):
    subprocess.run([sys.executable, "-m", "pip", *args], check=True)


def installed_version():
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(REQUIREMENT)
    except PackageNotFoundError:
        return None


def download_sdist(download_dir, constraints):
    # --no-build-isolation: setup.py imports torch, which the build environment would not have.
    pip("download", "--no-deps", "--no-binary", ":all:", "--no-build-isolation",
        *constraints, "--dest", download_dir, REQUIREMENT)
    archives = sorted(glob.glob(os.path.join(download_dir, "pb1-detectron2-*.tar.gz")))
    if not archives:
        sys.exit(f"pip download produced no pb1-detectron2 sdist in {download_dir}")
    return archives[-1]


def build_wheel(sdist, build_dir):
    with tarfile.open(sdist) as archive:
        top = archive.getnames()[0].split("/")[0]
        archive.extractall(build_dir, filter="data")
    source_dir = os.path.join(build_dir, top)
    wheel_dir = os.path.join(build_dir, "wheels")
    subprocess.run([sys.executable, "-c", _BUILD_WITHOUT_EXTENSION, os.path.abspath(wheel_dir)],
                   cwd=source_dir, check=True, stdout=subprocess.DEVNULL)
    return glob.glob(os.path.join(wheel_dir, "pb1_detectron2-*.whl"))[0]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-c", "--constraint", help="pip constraints file that pins pb1-detectron2")
    parser.add_argument("--build-dir", default="build/detectron2", help="where to download and build")
    args = parser.parse_args()

    if installed_version() is not None:
        print(f"{REQUIREMENT} {installed_version()} is already installed")
        return
    constraints = ["-c", args.constraint] if args.constraint else []
    os.makedirs(args.build_dir, exist_ok=True)
    sdist = download_sdist(args.build_dir, constraints)
    wheel = build_wheel(sdist, args.build_dir)
    pip("install", *constraints, wheel)


if __name__ == "__main__":
    main()
