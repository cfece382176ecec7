#!/usr/bin/env python
"""Build and install upstream detectron2 from source, with its C++ extension ``detectron2._C``.

SOURCE is a source checkout (``git clone https://github.com/facebookresearch/detectron2``) or a
``git archive`` tarball of one. It is copied into --build-dir (the source itself is never written
to), any installed detectron2 is removed, and the copy is installed into the running interpreter's
environment. Its setup.py imports torch, so torch must be installed first (--no-build-isolation).
MAX_JOBS in the environment sets the number of parallel compile jobs.

Usage: python tools/install_detectron2_upstream.py SOURCE [-c constraints.txt] [--build-dir DIR]
"""
import argparse
import os
import shutil
import subprocess
import sys
import tarfile


def pip(*args):
    subprocess.run([sys.executable, "-m", "pip", *args], check=True)


def copy_source(source, build_dir):
    """Copy the tarball's or checkout's files into a fresh ``build_dir``; return the copy's root."""
    if os.path.isdir(build_dir):
        shutil.rmtree(build_dir)
    if os.path.isdir(source):
        target = os.path.join(build_dir, "detectron2")
        shutil.copytree(source, target, ignore=shutil.ignore_patterns(".git", "build", "*.so"))
        return target
    with tarfile.open(source) as archive:
        top = archive.getnames()[0].split("/")[0]
        archive.extractall(build_dir, filter="data")
    return os.path.join(build_dir, top)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", help="detectron2 source checkout, or a git-archive tarball of one")
    parser.add_argument("-c", "--constraint", help="pip constraints file (pins torch)")
    parser.add_argument("--build-dir", default="build/detectron2-upstream", help="where to build")
    args = parser.parse_args()

    is_tree = os.path.isfile(os.path.join(args.source, "setup.py"))
    if not (is_tree or (os.path.isfile(args.source) and tarfile.is_tarfile(args.source))):
        sys.exit(f"gn_det: error: {args.source} is neither a detectron2 source tree (a folder with "
                 "setup.py) nor a tarball of one")
    source_dir = copy_source(args.source, args.build_dir)
    if not os.path.isfile(os.path.join(source_dir, "setup.py")):
        sys.exit(f"gn_det: error: {args.source} has no setup.py in its top folder: not a tarball "
                 "of a detectron2 source tree")
    constraints = ["-c", args.constraint] if args.constraint else []
    pip("uninstall", "-y", "-q", "detectron2", "pb1-detectron2")
    pip("install", *constraints, "--no-build-isolation", source_dir)


if __name__ == "__main__":
    main()
