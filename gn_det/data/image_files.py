"""Check that an image file exists, can be read, is complete, and has the size its annotations say.

The default check reads the file's header (format, size, EXIF orientation) and its last bytes: a
JPEG or PNG file that was cut short (an interrupted copy or download, the usual way image files go
bad) lacks the end marker of its format. That costs well under a millisecond per file, so a COCO
sized dataset is checked in seconds. ``full_decode`` also decodes every pixel, which finds damage in
the middle of a file as well, at the cost of reading every image once.
"""
import os

from PIL import Image

# EXIF orientations that turn the image by 90 degrees: detectron2 applies the orientation when it
# reads an image, so its width and height are swapped with respect to the stored pixels.
_EXIF_ORIENTATION_TAG = 0x0112
_TRANSPOSING_ORIENTATIONS = (5, 6, 7, 8)

# The bytes a complete file of each format ends with (before any zero padding; padding longer
# than the last _TAIL_BYTES read counts as damage).
_END_MARKERS = {"JPEG": b"\xff\xd9", "PNG": b"IEND\xaeB`\x82"}
_TAIL_BYTES = 4096


def _ends_with_marker(path, marker):
    with open(path, "rb") as f:
        f.seek(max(os.path.getsize(path) - _TAIL_BYTES, 0))
        return f.read().rstrip(b"\x00").endswith(marker)


def image_file_problem(path, width=None, height=None, full_decode=False):
    """None if ``path`` is a complete image of ``width`` x ``height`` pixels as detectron2 reads it
    (after EXIF orientation; None skips the size check), else ``(kind, detail)`` with kind one of
    "missing_image_file", "unreadable_image", "truncated_image", "image_size_mismatch"."""
    if not os.path.isfile(path):
        return "missing_image_file", "the file does not exist"
    try:
        with Image.open(path) as image:
            size, image_format = image.size, image.format
            # PIL decodes a whole PNG to look for EXIF data that did not come before the pixels.
            has_exif = image_format != "PNG" or "exif" in image.info
            orientation = image.getexif().get(_EXIF_ORIENTATION_TAG) if has_exif else None
            if full_decode:
                image.load()
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as error:
        return "unreadable_image", f"cannot be read as an image ({error})"
    marker = _END_MARKERS.get(image_format)
    if marker and not _ends_with_marker(path, marker):
        return "truncated_image", f"the {image_format} data ends before its end-of-image marker"
    if orientation in _TRANSPOSING_ORIENTATIONS:
        size = size[::-1]
    if width is not None and height is not None and size != (width, height):
        return ("image_size_mismatch", f"the file is {size[0]}x{size[1]} (width x height) but "
                f"the annotations say {width}x{height}")
    return None
