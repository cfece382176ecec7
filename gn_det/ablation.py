"""The paper's detection claims in miniature: studies of small shapes Mask R-CNN variants on the CPU,
their results table, plots and claim-by-claim verdicts (used by tools/ablate.py).

A cell is a list of config overrides on the ablation preset; a run is (cell, seed). Cells that
resolve to the same config (e.g. the all-GN preset, which is the GN cell of three studies) are
trained once and shared between studies; a run's folder is named after its config's settings
(:func:`cell_name`), so it does not depend on which cells ran.
"""
import json
import os
import statistics
import time
from dataclasses import dataclass

import matplotlib
from detectron2.data import DatasetCatalog, MetadataCatalog

from .config import load_config
from .engine import Trainer

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

ALL_GN = ["MODEL.RESNETS.NORM", "GN", "MODEL.FPN.NORM", "GN",
          "MODEL.ROI_BOX_HEAD.NORM", "GN", "MODEL.ROI_MASK_HEAD.NORM", "GN"]
# BN in training mode: batch statistics while training, running averages at test time.
ALL_BN = ["MODEL.RESNETS.NORM", "BN", "MODEL.FPN.NORM", "BN",
          "MODEL.ROI_BOX_HEAD.NORM", "BN", "MODEL.ROI_MASK_HEAD.NORM", "BN"]
# The paper's BN*: frozen BN, which at random init is an identity affine layer (no normalization);
# the heads, which have no FrozenBN option, get no norm, the same computation.
ALL_FROZEN_BN = ["MODEL.RESNETS.NORM", "FrozenBN", "MODEL.FPN.NORM", "FrozenBN",
                 "MODEL.ROI_BOX_HEAD.NORM", "", "MODEL.ROI_MASK_HEAD.NORM", ""]
BATCH_SIZES = (1, 2, 4, 8)
# --quick (an end-to-end check of the pipeline): training images seen per run, validation images.
QUICK_IMAGES, QUICK_VAL_IMAGES = 16, 8


def box_head(norm):
    return ["MODEL.ROI_BOX_HEAD.NORM", norm]


def groups(num_groups, dim_per_group=-1):
    return ["MODEL.GN.NUM_GROUPS", str(num_groups), "MODEL.GN.DIM_PER_GROUP", str(dim_per_group)]


def batch(images_per_batch, base, images_seen):
    """Linear scaling: LR proportional to the batch, the same number of images seen."""
    iters = images_seen // images_per_batch
    lr = base["lr"] * images_per_batch / base["ims"]
    return ["SOLVER.IMS_PER_BATCH", str(images_per_batch), "SOLVER.BASE_LR", f"{lr:g}",
            "SOLVER.MAX_ITER", str(iters), "SOLVER.STEPS", f"({int(iters * 0.75)}, {int(iters * 0.9)})",
            "SOLVER.WARMUP_ITERS", str(max(1, iters // 6))]


@dataclass(frozen=True)
class Study:
    name: str
    title: str
    cells: dict  # label -> overrides


def studies(images_seen, quick=False):
    """The four studies. ``images_seen`` fixes the schedule of every cell (iterations = images /
    batch); quick mode keeps two cells per study."""
    base = {"ims": 2, "lr": 0.01}
    at2 = batch(2, base, images_seen)
    result = [
        Study("box_head", "Box-head norm, 2 images/batch",
              {"none": at2 + box_head(""), "BN": at2 + box_head("BN"), "GN": at2 + box_head("GN")}),
        Study("scratch", "From scratch, 2 images/batch",
              {"GN": at2 + ALL_GN, "BN": at2 + ALL_BN, "BN*": at2 + ALL_FROZEN_BN}),
        Study("groups", "Groups (full GN, 2 images/batch)",
              {"G=1 (LN)": at2 + groups(1), "G=8": at2 + groups(8), "G=32": at2 + groups(32),
               "1 ch/group (IN)": at2 + groups(-1, 1)}),
        Study("batch", "Box-head BN vs GN vs images/batch",
              {f"{norm} @{b}": batch(b, base, images_seen) + box_head(norm)
               for norm in ("BN", "GN") for b in BATCH_SIZES}),
    ]
    if quick:
        keep = {"box_head": ("BN", "GN"), "scratch": ("GN", "BN"), "groups": ("G=1 (LN)", "G=32"),
                "batch": ("BN @1", "BN @2", "GN @1", "GN @2")}
        result = [Study(s.name, s.title, {k: v for k, v in s.cells.items() if k in keep[s.name]})
                  for s in result]
    return result


def cell_name(cfg):
    """What a cell trains, as a folder name: the norm of the backbone, FPN, box head and mask head,
    the groups when a norm is GN, and the images per batch; e.g. the box-head BN cell is
    res-GN_fpn-GN_box-BN_mask-GN_G32_ims2. The studies differ only in these settings."""
    norms = {"res": cfg.MODEL.RESNETS.NORM, "fpn": cfg.MODEL.FPN.NORM,
             "box": cfg.MODEL.ROI_BOX_HEAD.NORM, "mask": cfg.MODEL.ROI_MASK_HEAD.NORM}
    parts = [f"{part}-{norm or 'none'}" for part, norm in norms.items()]
    if "GN" in norms.values():
        gn = cfg.MODEL.GN
        groups = f"G{gn.NUM_GROUPS}" if gn.NUM_GROUPS > 0 else f"{gn.DIM_PER_GROUP}ch-per-group"
        parts.append(groups)
    return "_".join(parts + [f"ims{cfg.SOLVER.IMS_PER_BATCH}"])


def plan(config_file, study_list, extra_overrides, seeds):
    """The runs of ``study_list``: ({(study, cell): cell name}, [(run name, cell name, overrides,
    seed)]), each distinct config trained once per seed, all cells at seed 0 first."""
    names, distinct = {}, {}
    for study in study_list:
        for cell, overrides in study.cells.items():
            cfg = load_config(config_file, overrides + extra_overrides)
            name = names[study.name, cell] = cell_name(cfg)
            dump, _ = distinct.setdefault(name, (cfg.dump(), overrides + extra_overrides))
            if dump != cfg.dump():
                raise ValueError(f"Two different ablation configs are both named {name}: "
                                 "cell_name must tell them apart.")
    runs = [(f"{name}_seed{seed}", name, overrides, seed)
            for seed in range(seeds) for name, (_, overrides) in distinct.items()]
    return names, runs


def register_val_subset(num_images, source="shapes_val"):
    """Register the first ``num_images`` of ``source`` as its own dataset (quick evaluations)."""
    name = f"{source}_first{num_images}"
    if name not in DatasetCatalog.list():
        DatasetCatalog.register(name, lambda: DatasetCatalog.get(source)[:num_images])
        MetadataCatalog.get(name).set(
            thing_classes=MetadataCatalog.get(source).thing_classes, evaluator_type="coco")
    return name


def train_cell(config_file, overrides, seed, output_dir):
    """Train and evaluate one run in this process, its config saved as ``output_dir``/config.yaml
    (what tools/train_net.py and tools/visualize_predictions.py take); returns (box AP, mask AP,
    seconds)."""
    cfg = load_config(config_file, list(overrides) + ["SEED", str(seed), "OUTPUT_DIR", output_dir])
    os.makedirs(output_dir, exist_ok=True)
    with open(os.path.join(output_dir, "config.yaml"), "w") as f:
        f.write(cfg.dump())
    start = time.perf_counter()
    trainer = Trainer(cfg)
    trainer.resume_or_load(resume=False)
    results = trainer.train()
    return results["bbox"]["AP"], results["segm"]["AP"], time.perf_counter() - start


def summarize(runs, study_list):
    """{study: {cell: {"box": (mean, std), "mask": (mean, std), "n": seeds}}} over finished runs."""
    table = {}
    for study in study_list:
        table[study.name] = {}
        for cell in study.cells:
            done = [r for r in runs if r["study"] == study.name and r["cell"] == cell]
            if done:
                table[study.name][cell] = {
                    "n": len(done),
                    **{k: _mean_std([r[f"{k}_ap"] for r in done]) for k in ("box", "mask")}}
    return table


def _mean_std(values):
    return (statistics.mean(values), statistics.stdev(values) if len(values) > 1 else 0.0)


def _compare(table, study, better, worse, claim, judged):
    cells = table.get(study, {})
    if better not in cells or worse not in cells:
        return f"- {claim}: not measured (cells missing: {better} or {worse})."
    diff = cells[better]["box"][0] - cells[worse]["box"][0]
    noise = max(cells[better]["box"][1], cells[worse]["box"][1])
    return f"- {claim}: {_verdict(diff, noise, judged)} ({diff:+.1f} box AP)."


def _verdict(difference, spread, judged):
    """The verdict on an AP difference that the claim says is positive, against the seed spread."""
    if not judged:
        return "not judged (quick run)"
    if difference <= 0:
        return "NOT reproduced"
    if difference <= spread:
        return "same direction, but within the seed spread (inconclusive)"
    return "reproduced"


def verdicts(table, judged=True):
    """Claim-by-claim verdict lines generated from the numbers; ``judged=False`` (quick runs,
    whose APs mean nothing) gives the differences without a verdict."""
    lines = [
        _compare(table, "box_head", "GN", "BN", "GN box head beats BN box head at 2 images/batch",
                 judged),
        _compare(table, "box_head", "GN", "none", "GN box head beats a box head without norm",
                 judged),
        _compare(table, "scratch", "GN", "BN", "From scratch, GN beats BN (training mode)", judged),
        _compare(table, "scratch", "GN", "BN*", "From scratch, GN beats frozen BN (BN*)", judged),
        _compare(table, "groups", "G=32", "G=1 (LN)", "G=32 beats LN (G=1)", judged),
        _compare(table, "groups", "G=32", "1 ch/group (IN)", "G=32 beats IN (1 channel/group)",
                 judged),
    ]
    cells = table.get("batch", {})
    small, large = min(BATCH_SIZES), max(BATCH_SIZES)
    for b in BATCH_SIZES:
        if f"BN @{b}" in cells and f"GN @{b}" in cells and b <= 2:
            lines.append(_compare(table, "batch", f"GN @{b}", f"BN @{b}",
                                  f"GN head beats BN head at {b} image(s)/batch", judged))
    ends = [f"{n} @{b}" for n in ("BN", "GN") for b in (small, large)]
    if all(e in cells for e in ends):
        # The paper: BN degrades as the batch shrinks, GN does not, so GN's lead over BN grows.
        gaps = {b: cells[f"GN @{b}"]["box"][0] - cells[f"BN @{b}"]["box"][0] for b in (small, large)}
        growth = gaps[small] - gaps[large]
        noise = max(cells[e]["box"][1] for e in ends)
        lines.append(f"- GN's lead over BN grows as the batch shrinks from {large} to {small} "
                     f"image(s): {_verdict(growth, noise, judged)} (GN - BN box AP {gaps[large]:+.1f} "
                     f"at {large}, {gaps[small]:+.1f} at {small}).")
    return lines


# Opens a quick run's report: its numbers test the pipeline, not the paper.
QUICK_RUN_NOTE = (f"**Quick run (`--quick`): a smoke test of the pipeline.** Each model saw "
                  f"{QUICK_IMAGES} training images, so its APs are noise and mean nothing; no "
                  "claim is judged. Run without `--quick` for the ablation.")


def markdown(table, study_list, runs, wall_seconds, quick=False):
    out = [QUICK_RUN_NOTE, ""] if quick else []
    for study in study_list:
        out += [f"### {study.title}", "", "| cell | box AP | mask AP | seeds |", "|---|---|---|---|"]
        for cell in study.cells:
            row = table[study.name].get(cell)
            if row is None:
                out.append(f"| {cell} | not run | not run | 0 |")
            else:
                out.append(f"| {cell} | {row['box'][0]:.1f} ± {row['box'][1]:.1f} | "
                           f"{row['mask'][0]:.1f} ± {row['mask'][1]:.1f} | {row['n']} |")
        out.append("")
    out += ["### Verdicts (generated from the numbers above)", "", *verdicts(table, not quick), "",
            f"{len({run['output_dir'] for run in runs})} trainings (cells shared between studies "
            f"trained once), wall time {wall_seconds / 60:.1f} min (mean ± sample std over seeds).",
            ""]
    return "\n".join(out)


def plot(table, study_list, output_dir):
    """bar_<study>.png per study and ap_vs_batch.png; returns the written paths."""
    paths = []
    for study in study_list:
        cells = table[study.name]
        if not cells or study.name == "batch":
            continue
        fig, ax = plt.subplots(figsize=(4.5, 3), dpi=80)
        labels = list(cells)
        ax.bar(labels, [cells[c]["box"][0] for c in labels],
               yerr=[cells[c]["box"][1] for c in labels], capsize=4, color="tab:blue")
        ax.set_ylabel("box AP (shapes_val)")
        ax.set_title(study.title, fontsize=9)
        ax.tick_params(axis="x", labelsize=8)
        paths.append(_save(fig, os.path.join(output_dir, f"bar_{study.name}.png")))
    cells = table.get("batch", {})
    if cells:
        fig, ax = plt.subplots(figsize=(4.5, 3), dpi=80)
        for norm, color in (("BN", "tab:red"), ("GN", "tab:green")):
            xs = [b for b in BATCH_SIZES if f"{norm} @{b}" in cells]
            ax.errorbar(xs, [cells[f"{norm} @{b}"]["box"][0] for b in xs],
                        yerr=[cells[f"{norm} @{b}"]["box"][1] for b in xs],
                        marker="o", capsize=3, color=color, label=f"{norm} box head")
        ax.set_xscale("log", base=2)
        ax.set_xticks(list(BATCH_SIZES), [str(b) for b in BATCH_SIZES])
        ax.set_xlabel("images per batch")
        ax.set_ylabel("box AP (shapes_val)")
        ax.set_title("AP vs batch size (same images seen)", fontsize=9)
        ax.legend(fontsize=8)
        paths.append(_save(fig, os.path.join(output_dir, "ap_vs_batch.png")))
    return paths


def _save(fig, path):
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def write_report(runs, study_list, output_dir, wall_seconds, quick=False):
    """results.json, results.md and the plots, from the runs finished so far."""
    with open(os.path.join(output_dir, "results.json"), "w") as f:
        json.dump({"wall_seconds": wall_seconds, "quick": quick, "runs": runs}, f, indent=1)
    table = summarize(runs, study_list)
    text = markdown(table, study_list, runs, wall_seconds, quick)
    with open(os.path.join(output_dir, "results.md"), "w") as f:
        f.write(text)
    plot(table, study_list, output_dir)
    return text
