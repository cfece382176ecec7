"""The ablations' report: per-cell means and spreads over seeds, each claim's difference with its
95% interval and verdict (:mod:`gn_det.significance`), plots, results.json and results.md."""
import json
import os
import statistics

import matplotlib

from ..engine.atomic_checkpoint import write_atomically
from ..significance import contrast_interval, verdict
from .studies import CLAIMS, PRETRAINING_BATCHES, TRANSFER_BATCHES

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

# The metrics of each kind of study: (result key, column title, unit).
METRICS = {"detection": (("box_ap", "box AP", "box AP"), ("mask_ap", "mask AP", "mask AP")),
           "classification": (("top1_error", "top-1 error %", "points of top-1 error"),)}

# Opens a quick run's report: its numbers test the pipeline, not the paper.
QUICK_RUN_NOTE = ("**Quick run (`--quick`): a smoke test of the pipeline.** Each model trained "
                  "for seconds, so its numbers are noise; no claim is judged. Run without "
                  "`--quick` for the ablation.")


def cell_values(records, study, cell, metric):
    """The per-seed values of ``metric`` of one cell, in seed order."""
    return [r[metric] for r in sorted(records, key=lambda r: r["seed"])
            if r["study"] == study and r["cell"] == cell]


def _mean_std(values):
    return statistics.fmean(values), (statistics.stdev(values) if len(values) > 1 else 0.0)


def claim_line(claim, records, judged):
    """One claim's line: its difference, interval and verdict (or why there is none)."""
    samples = {cell: cell_values(records, claim.study, cell, claim.metric)
               for cell in claim.weights}
    missing = [cell for cell, values in samples.items() if not values]
    if missing:
        return f"- {claim.text}: not measured (no finished run of {', '.join(missing)})."
    unit = "box AP" if claim.metric == "box_ap" else "points of top-1 error"
    interval = contrast_interval(list(samples.values()), list(claim.weights.values()))
    judgement = verdict(interval, claim.sign) if judged else "not judged (quick run)"
    return f"- {claim.text}: **{judgement}**, {interval.text(unit)}. Paper: {claim.paper}."


def markdown(records, study_list, wall_seconds, runs_trained, quick=False):
    out = [QUICK_RUN_NOTE, ""] if quick else []
    for study in study_list:
        metrics = METRICS[study.kind]
        out += [f"### {study.title}", "",
                "| cell | " + " | ".join(f"{title} (mean ± std)" for _, title, _ in metrics)
                + " | per seed | seeds |",
                "|---|" + "---|" * len(metrics) + "---|---|"]
        for cell in study.cells:
            columns = []
            for key, _, _ in metrics:
                values = cell_values(records, study.name, cell, key)
                columns.append("{:.1f} ± {:.1f}".format(*_mean_std(values)) if values
                               else "not run")
            first = cell_values(records, study.name, cell, metrics[0][0])
            out.append(f"| {cell} | {' | '.join(columns)} | "
                       f"{', '.join(f'{v:.1f}' for v in first)} | {len(first)} |")
        out.append("")
    out += ["### Verdicts (computed from the numbers above)", "",
            "Each difference is of cell means with its 95% Welch t interval over seeds: "
            "**reproduced** when the interval excludes 0 in the paper's direction, **not "
            "reproduced** when it excludes 0 the other way, **inconclusive** otherwise.", ""]
    planned = {(study.name, cell) for study in study_list for cell in study.cells}
    out += [claim_line(claim, records, not quick) for claim in CLAIMS
            if all((claim.study, cell) in planned for cell in claim.weights)]
    out += ["", f"{runs_trained} runs (runs shared between cells trained once), wall time "
                f"{wall_seconds / 60:.1f} min.", ""]
    return "\n".join(out)


def plot(records, study_list, output_dir):
    """bar_<study>.png per detection study, error_vs_batch.png, ap_vs_batch.png; returns the
    written paths."""
    paths = []
    for study in study_list:
        if study.kind != "detection":
            continue
        labels = [c for c in study.cells if cell_values(records, study.name, c, "box_ap")]
        if not labels:
            continue
        fig, ax = plt.subplots(figsize=(4.8, 3), dpi=80)
        for offset, (key, color) in ((-0.2, ("box_ap", "tab:blue")), (0.2, ("mask_ap",
                                                                             "tab:orange"))):
            stats = [_mean_std(cell_values(records, study.name, c, key)) for c in labels]
            ax.bar([i + offset for i in range(len(labels))], [m for m, _ in stats], width=0.4,
                   yerr=[s for _, s in stats], capsize=3, color=color, label=key.replace(
                       "_ap", " AP"))
        ax.set_xticks(range(len(labels)), labels, fontsize=8)
        ax.set_ylabel("AP on shapes_val (mean ± std)")
        ax.set_title(study.title, fontsize=8)
        ax.legend(fontsize=7)
        paths.append(_save(fig, os.path.join(output_dir, f"bar_{study.name}.png")))
    curves = (("batch", "top1_error", ("BN", "GN"), PRETRAINING_BATCHES, "{} @{}",
               "top-1 error % (mean ± std)",
               "Pretraining error vs batch size (same epochs, linear LR)", "error_vs_batch.png"),
              ("transfer", "box_ap", ("BN*", "GN"), TRANSFER_BATCHES, "{} from @{}",
               "box AP on shapes_val (mean ± std)",
               "Fine-tuned box AP vs pretraining batch size", "ap_vs_batch.png"))
    for study, metric, norms, sizes, cell, ylabel, title, name in curves:
        if any(s.name == study for s in study_list):
            path = _curve(records, study, metric, norms, sizes, cell, ylabel, title,
                          os.path.join(output_dir, name))
            paths += [path] if path else []
    return paths


def _curve(records, study, metric, norms, sizes, cell, ylabel, title, path):
    """One line per norm of ``metric`` against images per batch (cells ``cell.format(norm,
    size)``); None when no cell has a value yet."""
    series = {norm: [(b, cell_values(records, study, cell.format(norm, b), metric)) for b in sizes]
              for norm in norms}
    if not any(values for points in series.values() for _, values in points):
        return None
    fig, ax = plt.subplots(figsize=(4.8, 3), dpi=80)
    for (norm, points), color in zip(series.items(), ("tab:red", "tab:green")):
        stats = [(b, *_mean_std(values)) for b, values in points if values]
        ax.errorbar([b for b, _, _ in stats], [m for _, m, _ in stats],
                    yerr=[s for _, _, s in stats], marker="o", capsize=3, color=color, label=norm)
    ax.set_xscale("log", base=2)
    ax.set_xticks(list(sizes), [str(b) for b in sizes])
    ax.invert_xaxis()
    ax.set_xlabel("images per batch (pretraining)")
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=8)
    ax.legend(fontsize=8)
    return _save(fig, path)


def _save(fig, path):
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def write_report(records, study_list, output_dir, wall_seconds, runs_trained, quick=False):
    """results.json, results.md and the plots from ``records`` (one per finished (study, cell,
    seed)); returns the markdown."""
    saved = {"wall_seconds": wall_seconds, "quick": quick, "records": records}
    write_atomically(os.path.join(output_dir, "results.json"),
                     lambda f: f.write(json.dumps(saved, indent=1).encode("utf-8")))
    text = markdown(records, study_list, wall_seconds, runs_trained, quick)
    write_atomically(os.path.join(output_dir, "results.md"),
                     lambda f: f.write(text.encode("utf-8")))
    plot(records, study_list, output_dir)
    return text
