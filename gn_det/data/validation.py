"""Dataset validation: whatever in a dataset would stop or spoil training, found before it starts.

:func:`validate_dataset` checks a registered dataset: its COCO annotation file when it has one
(every COCO-format dataset: COCO itself, the shapes splits, anything registered with
``register_coco_instances``), else its detectron2 dataset dicts. Each problem is a :class:`Finding`
that names the file, the image id and the annotation id. :data:`KINDS` lists every kind of problem,
and whether it is

* an **error**: training does not start (and ``tools/validate_dataset.py`` exits with status 1);
  the message says how to fix it. Annotation files that are not JSON or not COCO-shaped, fields
  that detectron2 or COCO evaluation read but that are missing (which depends on the dataset's
  use, :class:`~gn_det.data.required_fields.Use`: 'area' and 'iscrowd' only where it is
  evaluated, 'segmentation' only for a mask model), image sizes that are not whole numbers,
  duplicate ids, annotations of unknown images or categories, image files that are missing,
  unreadable, truncated or of another size than the JSON says, boxes that are not 4 finite numbers,
  masks that are neither polygons nor RLE, RLE masks of another size than their image, an empty
  split;
* a **skip**: counted in the log, and left out of training (:mod:`.training_records`): boxes
  with zero or negative width or height, boxes entirely outside their image, polygons with fewer
  than 3 points (the annotation is skipped when none of its polygons remains), images without
  annotations (left out of training while ``DATALOADER.FILTER_EMPTY_ANNOTATIONS`` is True, as
  detectron2 does; evaluation counts them as images without objects).

Boxes that stick out of their image are clipped to it by detectron2 when an image is loaded; they
are neither errors nor skips.
"""
import json
import os
import shlex
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from detectron2.data import DatasetCatalog, MetadataCatalog

from ..errors import DatasetError
from .annotation_checks import check_annotation, is_integer, with_xywh_box
from .datasets import SHAPES_SPLITS, check_dataset_available
from .image_files import image_file_problem
from .required_fields import (
    Use,
    field_problems,
    ignore_problem,
    image_size_problem,
    json_annotation_fields,
    missing_fields,
    pixel_count,
    record_annotation_fields,
    record_image_fields,
)

# Image files checked at once: the checks wait on the disk, not the CPU.
FILE_CHECK_THREADS = 16


@dataclass(frozen=True)
class Kind:
    """A kind of problem: whether it stops training, what it is, and how to fix it (errors) or
    what happens to it (skips)."""

    error: bool
    what: str
    remedy: str


_REDOWNLOAD = "Replace the file with a good copy (download or copy it again)."
KINDS = {
    "unreadable_json": Kind(True, "annotation file that is not valid JSON",
                            "Fix the file, or copy it again if a copy was interrupted."),
    "malformed_json": Kind(True, "annotation file without COCO's structure",
                           "A COCO instances file is a JSON object with the lists 'images', "
                           "'annotations' and 'categories'."),
    "malformed_entry": Kind(True, "image, annotation or category entry with a missing or "
                            "invalid field", "Every image needs an integer id, a file_name and "
                            "a height and width in whole pixels; every annotation and category "
                            "an integer id."),
    "missing_field": Kind(True, "entry without a usable value of a field that training or "
                          "evaluation reads",
                          "Add the field to every entry: 'area' is the object's area in pixels "
                          "(its mask's, else its box's width x height), 'iscrowd' is 0 for an "
                          "object (1 for a crowd region), 'segmentation' its polygons or RLE; "
                          "or write the file with detectron2's convert_to_coco_json, which fills "
                          "them in."),
    "duplicate_id": Kind(True, "duplicate id",
                         "Ids must be unique among the images, the annotations and the "
                         "categories; renumber the duplicates."),
    "unknown_image_id": Kind(True, "annotation of an image that is not in 'images'",
                             "Add the image to 'images' or remove the annotation."),
    "unknown_category_id": Kind(True, "annotation of a category that is not in 'categories'",
                                "Add the category to 'categories' or correct the annotation's "
                                "category_id."),
    "missing_image_file": Kind(True, "missing image file",
                               "Put the image there, or correct file_name or the dataset's "
                               "image root."),
    "unreadable_image": Kind(True, "unreadable image file", _REDOWNLOAD),
    "truncated_image": Kind(True, "truncated image file", _REDOWNLOAD),
    "image_size_mismatch": Kind(True, "image whose size differs from the annotation file",
                                "Set the image's width and height in the annotation file to the "
                                "file's, or restore the image the annotations were made on."),
    "malformed_box": Kind(True, "box that is not 4 finite numbers",
                          "Write bbox as [x, y, width, height] in pixels."),
    "malformed_mask": Kind(True, "segmentation that is neither polygons nor a valid RLE",
                           "Write segmentation as a list of polygons [x1, y1, x2, y2, ...] or as "
                           "COCO RLE {'size': [height, width], 'counts': ...} covering the image."),
    "rle_size_mismatch": Kind(True, "RLE mask whose size differs from its image",
                              "Encode the mask at the image's size (pycocotools.mask.encode of a "
                              "height x width array)."),
    "empty_split": Kind(True, "dataset without images",
                        "Check that the annotation file is the split you meant."),
    "box_without_area": Kind(False, "box with zero or negative width or height",
                             "annotation skipped"),
    "box_outside_image": Kind(False, "box entirely outside its image", "annotation skipped"),
    "degenerate_polygon": Kind(False, "polygon with fewer than 3 points",
                               "polygon dropped; the annotation is skipped when none is left"),
    "image_without_annotations": Kind(False, "image without annotations",
                                      "not trained on while DATALOADER.FILTER_EMPTY_ANNOTATIONS "
                                      "is True"),
}


@dataclass(frozen=True)
class Finding:
    """One problem: its kind (a key of :data:`KINDS`), where it is, and what exactly is wrong."""

    kind: str
    where: str
    detail: str

    def __str__(self):
        return f"{self.where}: {self.detail}"


@dataclass
class DatasetReport:
    """Everything :func:`validate_dataset` found in one dataset."""

    dataset: str
    source: str
    use: Use = Use()
    num_images: int = 0
    num_annotations: int = 0
    findings: list = field(default_factory=list)

    def add(self, kind, where, detail):
        self.findings.append(Finding(kind, where, detail))

    @property
    def errors(self):
        return [f for f in self.findings if KINDS[f.kind].error]

    @property
    def skips(self):
        return [f for f in self.findings if not KINDS[f.kind].error]

    def summary(self):
        """One line for the log: sizes, then the number of errors and skips of each kind."""
        parts = [f"Dataset '{self.dataset}' ({self.source}): {self.num_images} images, "
                 f"{self.num_annotations} annotations"]
        for label, findings in (("errors", self.errors), ("skipped in training", self.skips)):
            counts = Counter(f.kind for f in findings)
            listed = ", ".join(f"{n} {KINDS[kind].what}" for kind, n in sorted(counts.items()))
            parts.append(f"{label}: {listed or 'none'}")
        return "; ".join(parts)

    def lines(self, max_listed=0):
        """The report as text: the summary, then each kind of problem with its remedy and its
        findings (at most ``max_listed`` of each; 0 lists all)."""
        lines = [self.summary()]
        by_kind = defaultdict(list)
        for finding in self.findings:
            by_kind[finding.kind].append(finding)
        for kind, findings in by_kind.items():
            severity = "ERROR" if KINDS[kind].error else "skipped"
            lines.append(f"{severity}: {len(findings)} {KINDS[kind].what} ({KINDS[kind].remedy})")
            listed = findings[:max_listed] if max_listed else findings
            lines.extend(f"  {finding}" for finding in listed)
            if len(listed) < len(findings):
                lines.append(f"  ... {len(findings) - len(listed)} more (--max-listed 0 lists all)")
        return lines

    def error(self):
        """A one-line DatasetError for the first error, or None if there is none."""
        errors = self.errors
        if not errors:
            return None
        first = errors[0]
        more = len(errors) - 1
        listing = (f" {more} more error{'s' if more > 1 else ''}: "
                   f"{listing_command(self.dataset, self.use)} lists them all." if more else "")
        return DatasetError(f"Dataset '{self.dataset}' ({self.source}): {first}. "
                            f"{KINDS[first.kind].remedy}{listing}")


def _tool_flags(use):
    return "".join(flag for flag, off in ((" --train-only", not use.evaluated),
                                          (" --boxes-only", not use.masks)) if off)


def listing_command(name, use=Use()):
    """How to list every problem of registered dataset ``name``, in words a user can run.

    tools/validate_dataset.py runs in a process of its own, which knows gn_det's datasets by name
    and any COCO file by its path, but not a dataset that the user's code registers from dataset
    dicts: that one is validated in the code that registers it.
    """
    if name in SHAPES_SPLITS:
        return f"`python tools/validate_dataset.py --dataset {name}{_tool_flags(use)}`"
    metadata = MetadataCatalog.get(name)
    if metadata.get("json_file"):
        return (f"`python tools/validate_dataset.py --json {shlex.quote(metadata.json_file)} "
                f"--image-root {shlex.quote(metadata.get('image_root', ''))}{_tool_flags(use)}`")
    return (f"`gn_det.data.validation.validate_dataset('{name}', use={use!r}).lines()`, called in "
            f"the code that registers '{name}',")


@dataclass
class _Image:
    """One image to check, with its annotations (``where``, dict with an XYWH ``bbox``)."""

    where: str
    file_name: str
    width: object
    height: object
    annotations: list = field(default_factory=list)


def _check_images(report, images, check_files, full_decode, image_root=None):
    """Annotation and image file checks shared by COCO files and dataset dicts."""
    if not report.num_images:
        report.add("empty_split", report.source, "there are no images")
    for image in images:
        usable = 0
        for where, annotation in image.annotations:
            problems, kept = check_annotation(annotation, image.width, image.height)
            for kind, detail in problems:
                report.add(kind, where, detail)
            usable += kept is not None
        if not usable:
            report.add("image_without_annotations", image.where, "no usable annotation")
    if not check_files:
        return

    def problem(image):
        return image_file_problem(image.file_name, image.width, image.height, full_decode)

    with ThreadPoolExecutor(FILE_CHECK_THREADS) as pool:
        for image, found in zip(images, pool.map(problem, images)):
            if found:
                kind, detail = found
                if kind == "missing_image_file" and image_root is not None:
                    detail += _resolved_against(image_root)
                report.add(kind, image.where, detail)


def _resolved_against(image_root):
    root = os.path.abspath(image_root)
    missing = "" if os.path.isdir(root) else ", which does not exist"
    return f" (file_name resolved against the image root {root}{missing})"


def _entries_with_ids(report, entries, what):
    """``{id: entry}`` of a list of JSON objects; reports entries without an integer id and
    duplicate ids."""
    by_id = {}
    for index, entry in enumerate(entries):
        entry_id = entry.get("id") if isinstance(entry, dict) else None
        if not is_integer(entry_id):
            report.add("malformed_entry", f"{what} #{index} of '{what}s'",
                       f"'id' is {entry_id!r}, not an integer")
        elif entry_id in by_id:
            report.add("duplicate_id", f"{what} {entry_id}", f"{what} id {entry_id} is used twice")
        else:
            by_id[entry_id] = entry
    return by_id


def _image_from_json(report, image_id, entry, image_root, use):
    file_name, width, height = entry.get("file_name"), entry.get("width"), entry.get("height")
    where = f"image {image_id} ({file_name})"
    if not isinstance(file_name, str):
        report.add("malformed_entry", where, f"file_name {file_name!r} is not a path")
        return None
    problem = image_size_problem(width, height)
    if problem:
        report.add("malformed_entry", where, problem)
        return None
    return _Image(where, os.path.join(image_root, file_name), pixel_count(width),
                  pixel_count(height))


def _category_ids(report, categories):
    for category_id, category in categories.items():
        for problem in field_problems(category, ("name",)):
            report.add("missing_field", f"category {category_id}", problem)
    return set(categories)


def _annotations_from_json(report, annotations, images, category_ids, use):
    """Attach the annotations to their images; report missing fields and references to unknown
    images/categories."""
    fields = json_annotation_fields(use)
    for annotation_id, annotation in annotations.items():
        image_id, category_id = annotation.get("image_id"), annotation.get("category_id")
        image = images.get(image_id)
        where = f"annotation {annotation_id}" + (f" of {image.where}" if image else "")
        for problem in field_problems(annotation, fields):
            report.add("missing_field", where, problem)
        ignored = ignore_problem(annotation)
        if ignored:
            report.add("malformed_entry", where, ignored)
        if missing_fields(annotation, ("image_id", "category_id", "bbox")):
            continue
        if image_id not in images:
            report.add("unknown_image_id", where, f"image_id {image_id!r} is not in 'images'")
            continue
        if image is None:
            continue
        if category_id not in category_ids:
            report.add("unknown_category_id", where, f"category_id {category_id!r} is not in "
                       f"'categories' (ids {sorted(category_ids)})")
            continue
        image.annotations.append((where, annotation))


def validate_coco_json(json_file, image_root, dataset=None, check_files=True, full_decode=False,
                       use=Use()):
    """Validate a COCO instances file and its images for ``use``; returns a
    :class:`DatasetReport`."""
    report = DatasetReport(dataset or os.path.basename(json_file), json_file, use)
    try:
        with open(json_file, encoding="utf-8") as f:
            coco = json.load(f)
    except json.JSONDecodeError as error:
        report.add("unreadable_json", json_file,
                   f"{error.msg} at line {error.lineno}, column {error.colno}")
        return report
    except UnicodeDecodeError as error:
        report.add("unreadable_json", json_file, f"not UTF-8 text ({error.reason})")
        return report
    if not (isinstance(coco, dict)
            and all(isinstance(coco.get(key), list)
                    for key in ("images", "annotations", "categories"))):
        report.add("malformed_json", json_file, "no 'images', 'annotations' and 'categories' lists")
        return report
    category_ids = _category_ids(report, _entries_with_ids(report, coco["categories"],
                                                           "category"))
    images = {image_id: _image_from_json(report, image_id, entry, image_root, use)
              for image_id, entry in _entries_with_ids(report, coco["images"], "image").items()}
    _annotations_from_json(report, _entries_with_ids(report, coco["annotations"], "annotation"),
                           images, category_ids, use)
    report.num_images, report.num_annotations = len(images), len(coco["annotations"])
    _check_images(report, [image for image in images.values() if image is not None], check_files,
                  full_decode, image_root)
    return report


def _image_from_record(report, record, index, num_classes, use):
    """The image of dataset dict ``record`` (None when it cannot be checked further)."""
    image_id = record.get("image_id", index)
    where = f"image {image_id} ({record.get('file_name')})"
    problems = field_problems(record, record_image_fields(use))
    for problem in problems:
        report.add("missing_field", where, problem)
    width, height = record.get("width"), record.get("height")
    size_problem = (image_size_problem(width, height)
                    if "width" in record or "height" in record else None)
    if size_problem:
        report.add("malformed_entry", where, size_problem)
    if problems or size_problem:
        return None
    image = _Image(where, record["file_name"], pixel_count(width), pixel_count(height))
    fields = record_annotation_fields(use)
    for number, annotation in enumerate(record.get("annotations", [])):
        where = f"annotation #{number} of {image.where}"
        for problem in field_problems(annotation, fields):
            report.add("missing_field", where, problem)
        if missing_fields(annotation, ("category_id", "bbox", "bbox_mode")):
            continue
        category_id = annotation.get("category_id")
        if num_classes and category_id not in range(num_classes):
            report.add("unknown_category_id", where,
                       f"category_id {category_id!r} is not a class index below {num_classes}")
            continue
        image.annotations.append((where, with_xywh_box(annotation)))
    return image


def validate_records(records, dataset, num_classes=0, check_files=True, full_decode=False,
                     use=Use()):
    """Validate detectron2 dataset dicts (for datasets without a COCO file) for ``use``;
    annotations are named by their position in their image. ``num_classes`` > 0 checks the
    category indices."""
    report = DatasetReport(dataset, f"dataset dicts of '{dataset}'", use)
    image_ids = Counter(record.get("image_id") for record in records if "image_id" in record)
    for image_id, count in image_ids.items():
        if count > 1:
            report.add("duplicate_id", f"image {image_id}", f"{count} images have this image_id")
    images = [_image_from_record(report, record, index, num_classes, use)
              for index, record in enumerate(records)]
    report.num_images = len(images)
    report.num_annotations = sum(len(record.get("annotations", [])) for record in records)
    _check_images(report, [image for image in images if image is not None], check_files,
                  full_decode)
    return report


def validate_dataset(name, check_files=True, full_decode=False, use=Use()):
    """Validate registered dataset ``name`` for ``use`` (generating a shapes split first if
    needed)."""
    check_dataset_available(name)
    metadata = MetadataCatalog.get(name)
    if metadata.get("json_file"):
        return validate_coco_json(metadata.json_file, metadata.get("image_root", ""), name,
                                  check_files, full_decode, use)
    return validate_records(DatasetCatalog.get(name), name, len(metadata.get("thing_classes", [])),
                            check_files, full_decode, use)
