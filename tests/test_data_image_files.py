"""image_file_problem: sizes as detectron2 reads them, and truncation judged as detectron2's
read_image (a PIL decode) judges it: a file cut short is truncated, data after a complete image is
not."""
import numpy as np
import pytest
from detectron2.data.detection_utils import read_image
from PIL import Image

from gn_det.data.image_files import image_file_problem


def write_image(path, width=40, height=30, **save_options):
    pixels = np.random.default_rng(0).integers(0, 255, (height, width, 3), np.uint8)
    Image.fromarray(pixels).save(path, **save_options)
    return path


def test_exif_rotated_jpeg_has_the_size_detectron2_reads(tmp_path):
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate by 90 degrees when displayed
    path = str(write_image(tmp_path / "rotated.jpg", exif=exif))
    height, width = read_image(path).shape[:2]
    assert (width, height) == (30, 40)
    assert image_file_problem(path, width, height) is None
    assert image_file_problem(path, 40, 30)[0] == "image_size_mismatch"


def test_padding_after_the_end_marker_is_not_truncation(tmp_path):
    path = write_image(tmp_path / "padded.jpg")
    path.write_bytes(path.read_bytes() + b"\x00" * 100)
    assert image_file_problem(str(path), 40, 30) is None


# What a phone appends to a "motion photo": an MP4 file (here its 'ftyp' box and random payload).
MP4_TRAILER = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom" + bytes(range(256)) * 400


@pytest.mark.parametrize("full_decode", [False, True])
@pytest.mark.parametrize("name", ["motion.jpg", "progressive.jpg", "trailer.png"])
def test_data_after_a_complete_image_is_not_truncation(tmp_path, name, full_decode):
    path = write_image(tmp_path / name, progressive=name.startswith("progressive"))
    path.write_bytes(path.read_bytes() + MP4_TRAILER)
    assert read_image(str(path)).shape == (30, 40, 3)  # detectron2 reads it whole
    assert image_file_problem(str(path), 40, 30, full_decode=full_decode) is None


@pytest.mark.parametrize("full_decode", [False, True])
@pytest.mark.parametrize("name,cut", [("cut.jpg", 50), ("cut.png", 50), ("no_end_marker.jpg", 2),
                                      ("half.jpg", "half"), ("half.png", "half")])
def test_a_file_cut_short_is_truncated(tmp_path, name, cut, full_decode):
    path = write_image(tmp_path / name)
    data = path.read_bytes()
    path.write_bytes(data[:len(data) // 2] if cut == "half" else data[:-cut])
    with pytest.raises(OSError, match="truncated"):
        read_image(str(path))  # detectron2 cannot read it
    kind, detail = image_file_problem(str(path), 40, 30, full_decode=full_decode)
    assert kind == "truncated_image" and "ends before the image is complete" in detail


def test_damage_inside_a_file_needs_the_full_decode(tmp_path):
    path = write_image(tmp_path / "damaged.png")
    data = bytearray(path.read_bytes())
    middle = len(data) // 2
    data[middle:middle + 64] = bytes(64)
    path.write_bytes(bytes(data))
    assert image_file_problem(str(path), 40, 30) is None
    kind, detail = image_file_problem(str(path), 40, 30, full_decode=True)
    assert kind == "unreadable_image" and "cannot be read" in detail


def test_size_check_is_skipped_without_a_size(tmp_path):
    assert image_file_problem(str(write_image(tmp_path / "a.png"))) is None
    assert image_file_problem(str(tmp_path / "b.png")) == (
        "missing_image_file", f"{tmp_path / 'b.png'} does not exist")
