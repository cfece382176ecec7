"""What the CPU ablations train and which of the paper's claims they test.

A study is a table of cells; a cell is trained once per seed, each (cell, seed) a *run*: a
:class:`Detection` (a shapes Mask R-CNN, box and mask AP on shapes_val) or a :class:`Pretraining`
(the ablation backbone classifying the shapes classification set, top-1 error). A fine-tuning run
depends on the pretraining run of its norm, batch size and seed, which is shared with the
batch-size study. A :class:`Claim` is a contrast of cell means whose sign the paper states; its
verdict comes from the 95% interval over seeds (:mod:`gn_det.significance`).
"""
import os
from dataclasses import dataclass, field
from typing import Optional

CONFIG_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))), "configs")
# The detection preset every run starts from; the cells change only norms, groups, freezing,
# weights and the schedule.
ABLATION_CONFIG = os.path.join(CONFIG_DIR, "shapes_mask_rcnn_R18_FPN_ablation.yaml")

ALL_GN = ("MODEL.RESNETS.NORM", "GN", "MODEL.FPN.NORM", "GN",
          "MODEL.ROI_BOX_HEAD.NORM", "GN", "MODEL.ROI_MASK_HEAD.NORM", "GN")
# BN in training mode: batch statistics while training, running averages at test time.
ALL_BN = ("MODEL.RESNETS.NORM", "BN", "MODEL.FPN.NORM", "BN",
          "MODEL.ROI_BOX_HEAD.NORM", "BN", "MODEL.ROI_MASK_HEAD.NORM", "BN")
# The paper's BN*: frozen BN in the backbone (statistics and affine from pretraining; at random
# init an identity), FPN and heads without norm, as configs/mask_rcnn_R50_FPN_bnfrozen.yaml.
BN_STAR = ("MODEL.RESNETS.NORM", "FrozenBN", "MODEL.FPN.NORM", "",
           "MODEL.ROI_BOX_HEAD.NORM", "", "MODEL.ROI_MASK_HEAD.NORM", "")
# Fine-tuning freezes the stem and res2, as the COCO presets (MODEL.BACKBONE.FREEZE_AT 2).
FINE_TUNE_FREEZE_AT = ("MODEL.BACKBONE.FREEZE_AT", "2")
# Images per batch of the detection runs: the detection setting where BN statistics break.
DETECTION_IMAGES_PER_BATCH = 2
# Images per batch of the pretraining runs (the paper's Figure 1: 32 to 2 images per GPU); the
# fine-tuned backbones are the ones pretrained at the first.
PRETRAINING_BATCHES = (32, 16, 8, 4, 2)
QUICK_PRETRAINING_BATCHES = (32, 2)
# Pretraining images per batch whose backbones the transfer study fine-tunes (at 1x).
TRANSFER_BATCHES = (32, 2)


@dataclass(frozen=True)
class Schedule:
    """How long every run of a default (or --quick) ablation trains."""

    # Training images seen by a from-scratch detection run (iterations = images / batch).
    scratch_images: int
    # Training images seen by a fine-tuning run at 1x; the longer schedule sees 1.5x as many.
    fine_tune_images: int
    # Passes over the classification training split of a pretraining run (any batch size).
    pretraining_epochs: int
    # LR of a pretraining step of 32 images; linear scaling for the other batch sizes.
    pretraining_lr_at_32: float
    # LR /10 after these fractions of pretraining (short runs: late, unlike ImageNet's 30/60/90%).
    pretraining_lr_steps: tuple
    # Evaluate on the first N shapes_val images (0: all 200).
    val_images: int

    @property
    def long_fine_tune_images(self):
        return self.fine_tune_images * 3 // 2


DEFAULT_SCHEDULE = Schedule(scratch_images=4800, fine_tune_images=1600, pretraining_epochs=5,
                            pretraining_lr_at_32=0.1, pretraining_lr_steps=(0.6, 0.85),
                            val_images=200)
# --quick: an end-to-end check of the pipeline in seconds; its numbers mean nothing.
QUICK_SCHEDULE = Schedule(scratch_images=16, fine_tune_images=16, pretraining_epochs=1,
                          pretraining_lr_at_32=0.1, pretraining_lr_steps=(0.6, 0.85),
                          val_images=8)


@dataclass(frozen=True)
class Pretraining:
    """Classification pretraining of the ablation preset's ResNet with ``norm`` (BN or GN)."""

    norm: str
    images_per_batch: int
    epochs: int
    lr: float
    lr_steps: tuple
    seed: int

    @property
    def name(self):
        return (f"pretrain-{self.norm}_ims{self.images_per_batch}_ep{self.epochs}_lr{self.lr:g}"
                f"_seed{self.seed}")

    def config_overrides(self):
        """The detection config whose ResNet this pretrains. BN pretrains for BN* fine-tuning:
        tools/pretrain_backbone.py trains a FrozenBN config's ResNet with BN in training mode and
        writes it without BN step counters, which FrozenBN layers do not have."""
        return ("MODEL.RESNETS.NORM", "FrozenBN" if self.norm == "BN" else self.norm)


@dataclass(frozen=True)
class Detection:
    """A shapes Mask R-CNN run: ``overrides`` on the ablation preset, from scratch or fine-tuned
    from the backbone of ``pretrained``."""

    overrides: tuple
    images: int
    seed: int
    pretrained: Optional[Pretraining] = None

    def schedule_overrides(self):
        """Linear scaling from the preset's 0.01 at 2 images: the same LR at every length; LR /10
        at 75% and 90% of the iterations, warmup over the first sixth."""
        iters = self.images // DETECTION_IMAGES_PER_BATCH
        return ("SOLVER.IMS_PER_BATCH", str(DETECTION_IMAGES_PER_BATCH),
                "SOLVER.MAX_ITER", str(iters),
                "SOLVER.STEPS", f"({int(iters * 0.75)}, {int(iters * 0.9)})",
                "SOLVER.WARMUP_ITERS", str(max(1, iters // 6)),
                # A checkpoint every quarter: an interrupted run resumes from the last one.
                "SOLVER.CHECKPOINT_PERIOD", str(max(1, iters // 4)))


@dataclass(frozen=True)
class Study:
    name: str
    title: str
    # "detection" (box and mask AP, higher is better) or "classification" (top-1 error, lower).
    kind: str
    # cell label -> function seed -> run (a Detection or a Pretraining)
    cells: dict = field(repr=False)


@dataclass(frozen=True)
class Claim:
    """A claim of the paper as a contrast of cell means: sum(weight x mean) has ``sign``."""

    study: str
    text: str
    weights: dict  # cell label -> weight
    sign: int
    # The metric the contrast is of: "box_ap" or "top1_error".
    metric: str
    # What the paper reports, in words.
    paper: str


def pretraining(schedule, norm, images_per_batch, seed):
    lr = schedule.pretraining_lr_at_32 * images_per_batch / 32
    return Pretraining(norm, images_per_batch, schedule.pretraining_epochs, lr,
                       schedule.pretraining_lr_steps, seed)


def _scratch(schedule, overrides):
    return lambda seed: Detection(tuple(overrides), schedule.scratch_images, seed)


def _fine_tune(schedule, norm_overrides, norm, images, pretraining_batch=PRETRAINING_BATCHES[0]):
    return lambda seed: Detection(tuple(norm_overrides) + FINE_TUNE_FREEZE_AT, images, seed,
                                  pretraining(schedule, norm, pretraining_batch, seed))


def _groups(num_groups, dim_per_group=-1):
    return ALL_GN + ("MODEL.GN.NUM_GROUPS", str(num_groups),
                     "MODEL.GN.DIM_PER_GROUP", str(dim_per_group))


def _box_head(norm):
    return ALL_GN[:4] + ("MODEL.ROI_BOX_HEAD.NORM", norm) + ALL_GN[6:]


def studies(schedule, quick=False):
    """The studies of a run at ``schedule``; quick mode keeps two cells per study and the
    batch sizes 32 and 2."""
    once, long = schedule.fine_tune_images, schedule.long_fine_tune_images
    batches = QUICK_PRETRAINING_BATCHES if quick else PRETRAINING_BATCHES
    result = [
        Study("finetune", "Pretrained, fine-tuned: BN* vs GN (the paper's Tables 4 and 6)",
              "detection",
              {"BN* 1x": _fine_tune(schedule, BN_STAR, "BN", once),
               "GN 1x": _fine_tune(schedule, ALL_GN, "GN", once),
               "BN* 1.5x": _fine_tune(schedule, BN_STAR, "BN", long),
               "GN 1.5x": _fine_tune(schedule, ALL_GN, "GN", long)}),
        Study("batch", "Pretraining top-1 error vs images per batch (the paper's Figure 1)",
              "classification",
              {f"{norm} @{b}": (lambda seed, norm=norm, b=b: pretraining(schedule, norm, b, seed))
               for norm in ("BN", "GN") for b in batches}),
        Study("transfer", "Fine-tuned at 1x from backbones pretrained at 32 or 2 images per batch "
              "(Figure 1 carried to detection)", "detection",
              {f"{label} from @{b}": _fine_tune(schedule, overrides, norm, once, b)
               for label, overrides, norm in (("BN*", BN_STAR, "BN"), ("GN", ALL_GN, "GN"))
               for b in TRANSFER_BATCHES}),
        Study("scratch", "From scratch (the paper's Table 7)", "detection",
              {"GN": _scratch(schedule, ALL_GN), "BN": _scratch(schedule, ALL_BN),
               "BN*": _scratch(schedule, BN_STAR)}),
        Study("box_head", "Box-head norm, from scratch (the paper's Table 5)", "detection",
              {"GN": _scratch(schedule, ALL_GN), "BN": _scratch(schedule, _box_head("BN")),
               "none": _scratch(schedule, _box_head(""))}),
        Study("groups", "Groups, from scratch (the paper's Table 3)", "detection",
              {"G=8": _scratch(schedule, ALL_GN), "G=1 (LN)": _scratch(schedule, _groups(1)),
               "1 ch/group (IN)": _scratch(schedule, _groups(-1, 1))}),
    ]
    if quick:
        keep = {"finetune": ("BN* 1x", "GN 1x"), "scratch": ("GN", "BN"),
                "box_head": ("GN", "BN"), "groups": ("G=8", "G=1 (LN)")}
        result = [Study(s.name, s.title, s.kind,
                        {k: v for k, v in s.cells.items() if k in keep.get(s.name, s.cells)})
                  for s in result]
    return result


CLAIMS = (
    Claim("finetune", "Fine-tuned at 1x, GN beats BN*", {"GN 1x": 1, "BN* 1x": -1}, 1, "box_ap",
          "GN +1.1 box AP (C4, Table 4); full GN 40.3 vs BN* 38.6 (FPN, Table 6)"),
    Claim("finetune", "Fine-tuned at 1.5x, GN beats BN*", {"GN 1.5x": 1, "BN* 1.5x": -1}, 1,
          "box_ap", "GN +2.2 box AP with 270k instead of 180k iterations (Table 6)"),
    Claim("finetune", "GN gains more than BN* from the longer schedule",
          {"GN 1.5x": 1, "GN 1x": -1, "BN* 1.5x": -1, "BN* 1x": 1}, 1, "box_ap",
          "BN* does not gain from longer training, GN does (Table 6)"),
    Claim("batch", "At 2 images per batch, GN's error is lower than BN's",
          {"BN @2": 1, "GN @2": -1}, 1, "top1_error", "BN 34.7% vs GN 24.1% (Figure 1, Sec. 4.1)"),
    Claim("batch", "BN's error grows as the batch shrinks from 32 to 2",
          {"BN @2": 1, "BN @32": -1}, 1, "top1_error", "BN 23.6% at 32, 34.7% at 2 (Figure 1)"),
    Claim("batch", "GN's error grows less than BN's from 32 to 2 images per batch",
          {"BN @2": 1, "BN @32": -1, "GN @2": -1, "GN @32": 1}, 1, "top1_error",
          "GN is about constant (24.1%) from 32 to 2 (Figure 1)"),
    Claim("batch", "At 32 images per batch, BN's error is lower than GN's",
          {"GN @32": 1, "BN @32": -1}, 1, "top1_error", "BN 23.6% vs GN 24.1% (Table 1)"),
    Claim("transfer", "Pretrained at 2 images per batch, GN fine-tunes better than BN*",
          {"GN from @2": 1, "BN* from @2": -1}, 1, "box_ap",
          "not measured (the paper fine-tunes backbones pretrained at 32 images per GPU); follows "
          "from Figure 1, BN 34.7% vs GN 24.1% top-1 error at 2 images per GPU"),
    Claim("transfer", "BN*'s fine-tuned AP loses more than GN's when pretraining drops from 32 to "
          "2 images per batch",
          {"BN* from @32": 1, "BN* from @2": -1, "GN from @32": -1, "GN from @2": 1}, 1, "box_ap",
          "not measured; follows from Figure 1, where BN's error rises by 11.1 points from 32 to "
          "2 images per GPU and GN's stays about constant"),
    Claim("scratch", "From scratch, GN beats BN (training mode)", {"GN": 1, "BN": -1}, 1,
          "box_ap", "GN trains from scratch where BN at 2 images per GPU cannot (Table 7)"),
    Claim("scratch", "From scratch, GN beats BN*", {"GN": 1, "BN*": -1}, 1, "box_ap",
          "BN* has no statistics to freeze from scratch (Sec. 6.1)"),
    Claim("box_head", "GN box head beats BN box head", {"GN": 1, "BN": -1}, 1, "box_ap",
          "BN (not frozen) in the box head: about 9 box AP worse (Table 5)"),
    Claim("box_head", "GN box head beats a box head without norm", {"GN": 1, "none": -1}, 1,
          "box_ap", "GN box head 39.5 vs 38.6 without norm (Table 5)"),
    Claim("groups", "GN (G=8) beats LN (G=1)", {"G=8": 1, "G=1 (LN)": -1}, 1, "box_ap",
          "G=32 beats LN by 1.9 box AP (C4, Table 4), by 1.2% top-1 (Table 1)"),
    Claim("groups", "GN (G=8) beats IN (1 channel per group)", {"G=8": 1, "1 ch/group (IN)": -1},
          1, "box_ap",
          "G=32 beats IN by 4.3% top-1 (Table 1); 2 channels per group beat IN by 2.8% (Table 3)"),
)
