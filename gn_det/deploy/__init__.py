"""Deployment: export a trained model to TorchScript or ONNX (tools/export_model.py) and run it.

:func:`export_model` writes the eager model's graph and a ``model.json``; :func:`load` returns a
callable from a BGR image to detectron2 ``Instances``; :mod:`gn_det.deploy.onnx_runtime` runs an
ONNX export with numpy, Pillow and onnxruntime alone.
"""
from .export import FORMATS, DeployError, eager_config, export_model
from .predictor import load

__all__ = ["FORMATS", "DeployError", "eager_config", "export_model", "load"]
