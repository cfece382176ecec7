"""The benchmark's floors and its markdown report."""
from .models import MODELS

# (label, part, numerator model, denominator model, target, holds(ratio)).
FLOORS = [
    ("default-config inference, detectron2's GN model / gn_det on the same recipe", "inference",
     "d2_gn", "gn_det_on_d2", ">= 1.3", lambda r: r >= 1.3),
    ("default-config training step, detectron2's GN model / gn_det on the same recipe",
     "training", "d2_gn", "gn_det_on_d2", ">= 1.2", lambda r: r >= 1.2),
    ("GN / BN* inference, both default config", "inference", "gn_default", "bn_default",
     "<= 1.1", lambda r: r <= 1.1),
]
# Ratios reported without a floor: what each default buys.
RATIOS = [
    ("inference, eager / default config (GN preset)", "inference", "gn_eager", "gn_default"),
    ("inference, bit-identical fast path / default config", "inference", "gn_bitexact",
     "gn_default"),
    ("inference, COMPILE off / default config (does compiling pay?)", "inference",
     "gn_no_compile", "gn_default"),
    ("inference, detectron2's GN model / gn_det GN preset, default config", "inference", "d2_gn",
     "gn_default"),
    ("training step, BN* / GN, both default config", "training", "bn_default", "gn_default"),
]


def ratio(results, part, numerator, denominator):
    """Median of ``numerator`` / median of ``denominator`` in ``part`` (None if one is missing)."""
    seconds = results.get(part, {}).get("seconds", {})
    if numerator not in seconds or denominator not in seconds:
        return None
    return seconds[numerator]["median"] / seconds[denominator]["median"]


def floors(results):
    rows = []
    for label, part, numerator, denominator, target, holds in FLOORS:
        value = ratio(results, part, numerator, denominator)
        if value is not None:
            rows.append({"floor": label, "target": target, "measured": round(value, 3),
                         "holds": bool(holds(value)), "models": [numerator, denominator]})
    if "demo" in results:
        value = results["demo"]["compute_ratio"]
        rows.append({"floor": "`make demo` training compute, now / before", "target": "<= 0.5",
                     "measured": round(value, 3), "holds": value <= 0.5, "models": []})
    return rows


def _range(s, scale=1.0, digits=3):
    return (f"{s['median'] * scale:.{digits}f} | {s['min'] * scale:.{digits}f}–"
            f"{s['max'] * scale:.{digits}f}")


def _machine_lines(results):
    machine = results["machine"]
    return [f"Machine: {machine['cpu']}" + (f", {machine['gpu']}" if "gpu" in machine else "")
            + f"; {machine['threads']} threads of {machine['logical_cpus']} logical CPUs; "
            f"torch {machine['torch']}; load average (1 min) "
            f"{machine['load_average_start'][0]:.2f} "
            f"at start, {machine['load_average_end'][0]:.2f} at end. torch.compile of the fused GN "
            f"kernels (first calls, not timed): {results['compile_seconds_total']:.1f} s.", ""]


def _timing_table(part, title, extra_columns, extra_cells):
    seconds = part["seconds"]
    repeats = next(iter(seconds.values()))["repeats"]
    lines = [f"{title} (median and range of {repeats} interleaved repeats)", "",
             "| model | median | range | " + " | ".join(extra_columns) + " |",
             "|---|---|---|" + "---|" * len(extra_columns)]
    for model_id, s in seconds.items():
        lines.append(f"| {model_id}: {MODELS[model_id].description} | {_range(s)} | "
                     + " | ".join(extra_cells(model_id)) + " |")
    return lines + [""]


def _limit_lines(limit, model_id):
    kernels = ", ".join(f"{name} {flops / 1e9:.0f}"
                        for name, flops in limit["peak_flops_by_kernel"].items())
    return [f"Machine limit: peak {limit['peak_flops'] / 1e9:.0f} GFLOP/s (fp32, the best kernel, "
            f"best of 5: {kernels}); {model_id} computes "
            f"{limit['flops_per_image'] / 1e9:.0f} GFLOPs per image (convs, deconv, linear), so "
            f"its limit is {limit['limit_seconds_per_image']:.2f} s/image: it runs at "
            f"**{limit['fraction_of_peak']:.0%} of peak**.", ""]


def _demo_lines(demo):
    lines = ["`make demo` training compute (iterations x s/iteration; s/iteration median of "
             f"{len(demo['now']['all'])} interleaved iterations on the same shapes_train batches)",
             "", "| demo | images/batch | iterations | s/iteration | training compute s |",
             "|---|---|---|---|---|"]
    for name in ("before", "now"):
        d = demo[name]
        lines.append(f"| {name} | {d['images_per_batch']} | {d['iterations']} | "
                     f"{d['seconds_per_iteration']:.3f} | {d['training_compute_seconds']:.0f} |")
    return lines + [""]


def _allocator_lines(allocator):
    off, on = allocator["off"], allocator["on"]
    lines = [f"MODEL.FAST_PATH.REUSE_CPU_MEMORY, {allocator['model']} inference, s/image (median "
             f"and range of {allocator['calls']} calls in each of {allocator['processes']} fresh "
             "processes per setting, alternating)", "",
             "| REUSE_CPU_MEMORY | median | range | minor page faults per call (median) |",
             "|---|---|---|---|"]
    lines += [f"| {name} | {_range(m['seconds'])} | {m['page_faults_median']} |"
              for name, m in (("off", off), ("on (default on the CPU)", on))]
    speedup = off["seconds"]["median"] / on["seconds"]["median"]
    return lines + ["", f"off / on: {speedup:.3f}", ""]


def markdown(results):
    lines = _machine_lines(results)
    if "inference" in results:
        inference = results["inference"]
        lines += _timing_table(
            inference, "Inference, s/image (800x1067)",
            ["peak memory MB", "detections", "first call s (compile s)"],
            lambda m: [f"{inference['peak_memory_mb'][m]:.0f}", str(inference["detections"][m]),
                       f"{inference['first_call'][m]['seconds']:.1f} "
                       f"({inference['first_call'][m]['compile_seconds']:.1f})"])
    if "limit" in results:
        lines += _limit_lines(results["limit"], results["limit"]["model"])
    if "training" in results:
        training = results["training"]
        lines += _timing_table(training, "Training, s/iteration (2 images of 800x1067)",
                               ["peak memory MB"],
                               lambda m: [f"{training['peak_memory_mb'][m]:.0f}"])
    if "demo" in results:
        lines += _demo_lines(results["demo"])
    if "allocator" in results:
        lines += _allocator_lines(results["allocator"])
    if "kernel" in results:
        kernel = results["kernel"]
        copy = kernel["seconds"]["copy (clone)"]["median"]
        lines += [f"GN(32)+ReLU pass on a {'x'.join(map(str, kernel['shape']))} fp32 tensor, ms",
                  "", "| pass | median ms | range ms | / copy (clone) |", "|---|---|---|---|"]
        lines += [f"| {name} | {_range(s, 1e3, 1)} | {s['median'] / copy:.2f} |"
                  for name, s in kernel["seconds"].items()] + [""]
    if "equality" in results:
        lines += ["Detections against the reference model's (same image and weights; tolerance "
                  "of gn_det.benchmark.parity)", "",
                  "| pair | detections | matched | min box IoU | max score diff | min mask IoU |",
                  "|---|---|---|---|---|---|"]
        for pair, r in results["equality"].items():
            lines.append(f"| {pair} | {r['detections']} | {r['matched']} | "
                         f"{r.get('min_box_iou', 1.0):.4f} | "
                         f"{r.get('max_score_difference', 0.0):.1e} | "
                         f"{r.get('min_mask_iou', 1.0):.3f} |")
        lines.append("")
    ratios = [(label, value) for label, *spec in RATIOS
              if (value := ratio(results, *spec)) is not None]
    if ratios:
        lines += ["Ratios", "", "| ratio | measured |", "|---|---|"]
        lines += [f"| {label} | {value:.3f} |" for label, value in ratios] + [""]
    if results["floors"]:
        lines += ["Floors", "", "| floor | target | measured | holds |", "|---|---|---|---|"]
        lines += [f"| {row['floor']} | {row['target']} | {row['measured']:.3f} | "
                  f"{'yes' if row['holds'] else 'NO'} |" for row in results["floors"]]
    for model_id, table in results.get("profiles", {}).items():
        lines += ["", f"Profile of one inference of {model_id} (a floor is missed):", "```",
                  table.rstrip(), "```"]
    return "\n".join(lines) + "\n"
