#!/usr/bin/env python
"""pycocotools against faster-coco-eval on a generated, COCO-sized results file.

    python tools/benchmark_coco_eval.py                 # 5000 images x 100 detections with masks
    python tools/benchmark_coco_eval.py --images 500 --repeats 1

Generates (once, cached in OUTPUT_DIR) a ground-truth file shaped like COCO val2017 (5000 images of
COCO's sizes, about 7 objects per image over the 80 COCO category ids, polygon masks from 16 to
200,000 pixels, 1% crowd regions as RLE) and a results file shaped like a Mask R-CNN's: 100
detections per image with RLE masks, most near a ground-truth object (jittered, sometimes the wrong
class) and the rest false positives, scores spread like a detector's. Then evaluates bbox and segm
with both backends, interleaved (pycocotools, faster, pycocotools, faster...), timing what
detectron2's COCOEvaluator times (results loading, evaluate, accumulate, summarize), and checks
that the 12 summary numbers of each task are equal to 1e-6.

Writes OUTPUT_DIR/coco_eval_benchmark.json and prints a markdown table.
"""
import argparse
import contextlib
import io
import json
import os
import statistics
import time

import gn_det  # noqa: F401  (first: detectron2 fixes)
import numpy as np
import pycocotools.mask as mask_util
from pycocotools.coco import COCO

from gn_det.compat import evaluate_predictions_on_coco
from gn_det.evaluation import evaluate_with_faster_coco_eval, load_faster_coco_eval

# COCO's 80 category ids (1..90 with gaps).
COCO_CATEGORY_IDS = [i for i in range(1, 91) if i not in (12, 26, 29, 30, 45, 66, 68, 69, 71, 83)]
IMAGE_SIZES = [(480, 640), (427, 640), (640, 480), (640, 427), (375, 500), (512, 640), (424, 640)]
STATS = ["AP", "AP50", "AP75", "APs", "APm", "APl", "AR1", "AR10", "AR100", "ARs", "ARm", "ARl"]
TOLERANCE = 1e-6


def _polygon(rng, cx, cy, radius_x, radius_y, height, width):
    angles = np.sort(rng.uniform(0, 2 * np.pi, rng.integers(8, 20)))
    radii = rng.uniform(0.7, 1.0, len(angles))
    xs = np.clip(cx + radius_x * radii * np.cos(angles), 0, width - 1)
    ys = np.clip(cy + radius_y * radii * np.sin(angles), 0, height - 1)
    return np.round(np.stack([xs, ys], axis=1).ravel(), 2).tolist()


def _random_object(rng, height, width):
    area = np.exp(rng.uniform(np.log(16), np.log(0.6 * height * width)))
    aspect = np.exp(rng.uniform(-1, 1))
    radius_x = min(np.sqrt(area * aspect) / 2, width / 2)
    radius_y = min(np.sqrt(area / aspect) / 2, height / 2)
    cx, cy = rng.uniform(radius_x, width - radius_x), rng.uniform(radius_y, height - radius_y)
    return cx, cy, radius_x, radius_y


def _rle(polygon, height, width):
    rle = mask_util.merge(mask_util.frPyObjects([polygon], height, width))
    rle["counts"] = rle["counts"].decode("ascii")
    return rle


def generate(num_images, detections_per_image, seed=0):
    """(ground truth dict, results list) shaped like COCO val2017 and a Mask R-CNN's results."""
    rng = np.random.default_rng(seed)
    images, annotations, results = [], [], []
    for image_id in range(1, num_images + 1):
        height, width = IMAGE_SIZES[rng.integers(len(IMAGE_SIZES))]
        images.append({"id": image_id, "height": int(height), "width": int(width),
                       "file_name": f"{image_id:012d}.jpg"})
        objects = []
        for _ in range(1 + rng.poisson(6.3)):
            shape = _random_object(rng, height, width)
            category = int(rng.choice(COCO_CATEGORY_IDS))
            polygon = _polygon(rng, *shape, height, width)
            rle = mask_util.merge(mask_util.frPyObjects([polygon], height, width))
            crowd = rng.uniform() < 0.01
            segmentation = _rle(polygon, height, width) if crowd else [polygon]
            annotations.append({
                "id": len(annotations) + 1, "image_id": image_id, "category_id": category,
                "segmentation": segmentation, "area": float(mask_util.area(rle)),
                "bbox": [float(v) for v in mask_util.toBbox(rle)], "iscrowd": int(crowd)})
            objects.append((shape, category))
        for index in range(detections_per_image):
            if index < 2.5 * len(objects) and rng.uniform() < 0.9:
                (cx, cy, rx, ry), category = objects[index % len(objects)]
                jitter = rng.normal(0, 0.08, 4)
                shape = (cx + jitter[0] * rx, cy + jitter[1] * ry, rx * np.exp(jitter[2]),
                         ry * np.exp(jitter[3]))
                if rng.uniform() < 0.15:
                    category = int(rng.choice(COCO_CATEGORY_IDS))
                score = float(rng.beta(5, 2))
            else:
                shape = _random_object(rng, height, width)
                category = int(rng.choice(COCO_CATEGORY_IDS))
                score = float(rng.beta(1, 8))
            rle = _rle(_polygon(rng, *shape, height, width), height, width)
            results.append({"image_id": image_id, "category_id": category, "score": round(score, 5),
                            "bbox": [round(float(v), 2) for v in mask_util.toBbox(rle)],
                            "segmentation": rle})
    categories = [{"id": i, "name": f"class_{i}", "supercategory": "thing"}
                  for i in COCO_CATEGORY_IDS]
    ground_truth = {"info": {"description": "gn_det generated COCO-like ground truth"},
                    "images": images, "annotations": annotations, "categories": categories}
    return ground_truth, results


def load_or_generate(output_dir, num_images, detections_per_image):
    gt_path = os.path.join(output_dir, f"gt_{num_images}.json")
    results_path = os.path.join(output_dir, f"results_{num_images}x{detections_per_image}.json")
    if not (os.path.exists(gt_path) and os.path.exists(results_path)):
        os.makedirs(output_dir, exist_ok=True)
        ground_truth, results = generate(num_images, detections_per_image)
        for path, data in ((gt_path, ground_truth), (results_path, results)):
            with open(path, "w") as f:
                json.dump(data, f)
    with open(results_path) as f:
        results = json.load(f)
    return gt_path, results


def evaluate(backend, gt, results, iou_type):
    """The 12 summary numbers, and the seconds detectron2's COCOEvaluator would spend on them."""
    results = [dict(r) for r in results]  # loading results adds keys to them
    start = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()):
        if backend == "pycocotools":
            coco_eval = evaluate_predictions_on_coco(gt, results, iou_type, use_fast_impl=False)
        else:
            coco_eval = evaluate_with_faster_coco_eval(gt, results, iou_type)
    return [float(v) for v in coco_eval.stats[:12]], time.perf_counter() - start


def compare(gt_path, results, repeats, iou_types=("bbox", "segm")):
    """Both backends on the same files; per task: stats, max difference, seconds, speedup."""
    start = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()):
        ground_truths = {"pycocotools": COCO(gt_path)}
    load_seconds = {"pycocotools": time.perf_counter() - start}
    start = time.perf_counter()
    ground_truths["faster_coco_eval"] = load_faster_coco_eval().COCO(gt_path)
    load_seconds["faster_coco_eval"] = time.perf_counter() - start
    report = {"ground_truth_load_seconds": load_seconds, "tasks": {}}
    for iou_type in iou_types:
        seconds = {backend: [] for backend in ground_truths}
        stats = {}
        for _ in range(repeats):
            for backend, gt in ground_truths.items():
                stats[backend], elapsed = evaluate(backend, gt, results, iou_type)
                seconds[backend].append(elapsed)
        difference = max(abs(a - b) for a, b in zip(stats["pycocotools"], stats["faster_coco_eval"]))
        median = {backend: statistics.median(values) for backend, values in seconds.items()}
        report["tasks"][iou_type] = {
            "stats": stats, "max_abs_difference": difference, "equal": difference <= TOLERANCE,
            "seconds": seconds, "median_seconds": median,
            "speedup": median["pycocotools"] / median["faster_coco_eval"]}
    total = {backend: sum(task["median_seconds"][backend] for task in report["tasks"].values())
             for backend in ground_truths}
    report["total_seconds"] = total
    report["total_speedup"] = total["pycocotools"] / total["faster_coco_eval"]
    return report


def markdown(report, num_images, num_results):
    lines = [f"COCO evaluation of {num_results} detections with masks on {num_images} images "
             f"(load average {report['load_average'][0]:.2f} at start, "
             f"{report['load_average_end'][0]:.2f} at end)", "",
             "| task | pycocotools s | faster-coco-eval s | speedup | max abs difference of the 12 "
             "numbers | equal to 1e-6 |", "|---|---|---|---|---|---|"]
    for task, r in report["tasks"].items():
        lines.append(f"| {task} | {r['median_seconds']['pycocotools']:.1f} | "
                     f"{r['median_seconds']['faster_coco_eval']:.1f} | {r['speedup']:.1f}x | "
                     f"{r['max_abs_difference']:.1e} | {'yes' if r['equal'] else 'NO'} |")
    total = report["total_seconds"]
    lines.append(f"| bbox + segm | {total['pycocotools']:.1f} | {total['faster_coco_eval']:.1f} | "
                 f"{report['total_speedup']:.1f}x | | |")
    lines += ["", "| task | backend | " + " | ".join(STATS) + " |",
              "|---|---|" + "---|" * len(STATS)]
    for task, r in report["tasks"].items():
        for backend, values in r["stats"].items():
            lines.append(f"| {task} | {backend} | " + " | ".join(f"{v:.4f}" for v in values) + " |")
    return "\n".join(lines) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=5000)
    parser.add_argument("--detections-per-image", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=2, help="timed runs of each backend")
    parser.add_argument("--output-dir", default="output/coco_eval_benchmark")
    args = parser.parse_args(argv)

    gt_path, results = load_or_generate(args.output_dir, args.images, args.detections_per_image)
    load_average = os.getloadavg()
    report = compare(gt_path, results, args.repeats)
    report.update(load_average=load_average, load_average_end=os.getloadavg(),
                  images=args.images, detections=len(results))
    with open(os.path.join(args.output_dir, "coco_eval_benchmark.json"), "w") as f:
        json.dump(report, f, indent=1)
    print(markdown(report, args.images, len(results)))
    return report


if __name__ == "__main__":
    main()
