"""gn_det's fast path: the same model, with its norms fused and its convolutions channels-last.

:func:`convert_to_fast_path` converts, in place, a module built from detectron2's layers (a gn_det
backbone or head, or detectron2's own ResNet/FPN/heads):

* every ``Conv2d`` becomes a :class:`gn_det.layers.FusedConv2d` (FrozenBN folded into the conv,
  GroupNorm fused with the residual add and ReLU, in place in inference);
* the ResNet stem and blocks, which apply their ReLUs outside the convs, hand them to the convs;
* the mask head's ReLU after its deconv runs in place;
* RoIAlign (in a whole model's ROI poolers) reads channels-last CPU features directly, as one
  ``embedding_bag`` per level (:mod:`gn_det.layers.roi_align`), instead of torchvision's
  single-threaded kernel on an NCHW copy;
* with ``channels_last``, the conv weights are stored channels-last, so oneDNN (CPU) runs the
  convolutions without reordering activations, and every activation after the first conv is
  channels-last too;
* with ``reuse_cpu_memory``, glibc keeps freed CPU memory for the next tensors
  (:mod:`gn_det.cpu_allocator`; process-wide, not a change to the module).

Only classes change (:func:`gn_det.layers.module_class.convert_class`, as
``torch.nn.utils.parametrize`` does): every module stays the same object, so the plain lists
detectron2's forwards iterate (``FPN.lateral_convs``...) reach the converted modules, and module
names, parameters, buffers and state dict keys stay those of the eager model, so checkpoints load
into either. Outputs equal eager outputs up to float rounding (tests/test_fast_path.py states the
tolerances). ``MODEL.FAST_PATH`` turns each part on; by default everything measured faster is on
(on the CPU: all of it; on CUDA: the bit-identical fused convs only, see MEASURED_FASTER_ON).
Reusing CPU memory changes no number.
"""
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from detectron2.layers import ROIAlign
from detectron2.modeling import build_model as detectron2_build_model
from detectron2.modeling.backbone.resnet import BasicBlock, BasicStem, BottleneckBlock
from detectron2.modeling.poolers import ROIPooler
from detectron2.modeling.roi_heads import MaskRCNNConvUpsampleHead

from ..cpu_allocator import reuse_freed_memory
from ..layers.fused_conv import FusedConv2d, fuse_conv
from ..layers.module_class import convert_class
from ..layers.roi_align import FastROIAlign, FastROIPooler


class FastBasicStem(BasicStem):
    def forward(self, x):
        x = self.conv1(x, relu=True)
        return F.max_pool2d(x, kernel_size=3, stride=2, padding=1)


class FastBasicBlock(BasicBlock):
    def forward(self, x):
        out = self.conv1(x, relu=True)
        shortcut = x if self.shortcut is None else self.shortcut(x)
        return self.conv2(out, residual=shortcut, relu=True)


class FastBottleneckBlock(BottleneckBlock):
    def forward(self, x):
        out = self.conv1(x, relu=True)
        out = self.conv2(out, relu=True)
        shortcut = x if self.shortcut is None else self.shortcut(x)
        return self.conv3(out, residual=shortcut, relu=True)


# detectron2 class -> its fast subclass (only forward differs).
_FAST_BLOCKS = {
    BasicStem: FastBasicStem,
    BasicBlock: FastBasicBlock,
    BottleneckBlock: FastBottleneckBlock,
}
_FAST_POOLERS = {ROIPooler: FastROIPooler, ROIAlign: FastROIAlign}


def _convs_of(block):
    return [block.conv1, getattr(block, "conv2", None), getattr(block, "conv3", None),
            getattr(block, "shortcut", None)]


def convert_to_fast_path(module, channels_last=True, compile_norm=True):
    """Convert ``module`` to the fast path in place (see the module docstring) and return it.

    ``compile_norm=False`` keeps the fused GroupNorm on eager ops (no torch.compile). Converting
    twice changes nothing.
    """
    for child in module.modules():
        fuse_conv(child, compile_norm=compile_norm)
    for child in module.modules():
        fast = _FAST_BLOCKS.get(type(child))
        # A block whose convs are not all fusable (e.g. deformable) keeps its eager forward.
        if fast and all(c is None or isinstance(c, FusedConv2d) for c in _convs_of(child)):
            convert_class(child, fast)
        if type(child) in _FAST_POOLERS:
            convert_class(child, _FAST_POOLERS[type(child)])
        if isinstance(child, MaskRCNNConvUpsampleHead):
            # The deconv's backward does not need its output: ReLU it in place.
            child.deconv_relu.inplace = True
    if channels_last:
        module.to(memory_format=torch.channels_last)
    return module


# Where the float-rounding-changing options (compiled GN, channels-last) are on by default
# (MODEL.FAST_PATH.COMPILE / CHANNELS_LAST None): the devices they were measured faster on
# (tools/benchmark.py). Elsewhere the default is the bit-identical fast path until measured.
MEASURED_FASTER_ON = ("cpu",)


def _resolve(value, device, on_by_default=MEASURED_FASTER_ON):
    # None: on for the devices in on_by_default; True/False: as set.
    return torch.device(device).type in on_by_default if value is None else bool(value)


@dataclass(frozen=True)
class FastPathOptions:
    """How gn_det's builders convert what they build (``MODEL.FAST_PATH``)."""

    channels_last: bool = True
    compile_norm: bool = True
    reuse_cpu_memory: bool = True

    @classmethod
    def from_config(cls, cfg):
        """The options of ``MODEL.FAST_PATH`` on ``MODEL.DEVICE``, or None when it is off."""
        fast_path = cfg.MODEL.FAST_PATH
        if not fast_path.ENABLED:
            return None
        device = cfg.MODEL.DEVICE
        return cls(channels_last=_resolve(fast_path.CHANNELS_LAST, device),
                   compile_norm=_resolve(fast_path.COMPILE, device),
                   reuse_cpu_memory=_resolve(fast_path.REUSE_CPU_MEMORY, device, ("cpu",)))

    def convert(self, module):
        if self.reuse_cpu_memory:
            reuse_freed_memory()
        return convert_to_fast_path(module, self.channels_last, self.compile_norm)


def build_model(cfg):
    """detectron2's ``build_model``, then the whole model on the fast path as ``MODEL.FAST_PATH``
    says. gn_det's own backbones and heads are converted when built; this also converts what
    detectron2 builds around them (the RPN head's conv, the ROI poolers)."""
    return fast_path_from_config(cfg, detectron2_build_model(cfg))


def fast_path_from_config(cfg, module):
    """``module`` converted when ``MODEL.FAST_PATH.ENABLED``, else unchanged."""
    options = FastPathOptions.from_config(cfg)
    return module if options is None else options.convert(module)
