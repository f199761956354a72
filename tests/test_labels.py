"""Labels from class subfolders, CSV files (name and one-hot columns) and TFDS, and the
one-line errors bad label files give."""

import numpy as np
import pytest
from PIL import Image

from kerasgan.data import labels as label_source
from kerasgan.data.sources import load_image_set
from kerasgan.errors import UserError

COLOURS = {"red": (220, 30, 30), "blue": (30, 30, 220), "green": (30, 200, 30)}


def save(path, colour, size=8):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full((size, size, 3), COLOURS[colour], np.uint8)).save(path)


def write_csv(path, text):
    path.write_text(text.strip() + "\n")
    return path


@pytest.fixture
def faces(tmp_path):
    """A folder of solid-colour images named by hair colour, with a name-column CSV."""
    folder = tmp_path / "faces"
    rows = [("a.png", "red", "blue"), ("b.png", "blue", "blue"), ("sub/c.png", "green", "red"),
            ("d.png", "red", "green")]
    for name, hair, _ in rows:
        save(folder / name, hair)
    csv = write_csv(tmp_path / "tags.csv", "file,hair,eyes\n" + "\n".join(",".join(r) for r in rows))
    return folder, csv


def test_csv_name_columns(faces):
    folder, csv = faces
    images, labels, names = label_source.load_csv_labels(folder, csv, 8)
    assert names == {"hair": ["blue", "green", "red"], "eyes": ["blue", "green", "red"]}
    assert labels["hair"].tolist() == [2, 0, 1, 2] and labels["eyes"].tolist() == [0, 0, 2, 1]
    assert labels["hair"].dtype == np.int32
    # Row order is kept: each image is the colour of its hair label.
    for image, hair in zip(images, labels["hair"]):
        assert tuple(image[0, 0]) == COLOURS[names["hair"][hair]]


def test_csv_one_hot_columns_mixed_with_name_columns(faces, tmp_path):
    folder, _ = faces
    csv = write_csv(tmp_path / "onehot.csv", """
image,hair:red,hair:blue,hair:green,eyes
a.png,1,0,0,blue
b.png,0,1,0,blue
sub/c.png,0,0,1,red
""")
    data = load_image_set(None, folder, 8, labels_csv=csv)
    assert len(data.images) == 3
    assert data.label_names == {"hair": ["blue", "green", "red"], "eyes": ["blue", "red"]}
    assert data.labels["hair"].tolist() == [2, 0, 1] and data.labels["eyes"].tolist() == [0, 0, 1]
    assert list(data.labels) == ["hair", "eyes"]


def test_numeric_classes_sort_as_numbers(tmp_path):
    folder = tmp_path / "digits"
    for i, value in enumerate(["10", "2", "1"]):
        save(folder / f"{i}.png", "red")
    csv = write_csv(tmp_path / "d.csv", "file,digit\n0.png,10\n1.png,2\n2.png,1")
    _, labels, names = label_source.load_csv_labels(folder, csv, 8)
    assert names["digit"] == ["1", "2", "10"] and labels["digit"].tolist() == [2, 1, 0]


def test_subfolders_are_classes(tmp_path):
    folder = tmp_path / "pets"
    for name, colour in [("cat/1.png", "red"), ("cat/deep/2.png", "red"), ("dog/3.png", "blue")]:
        save(folder / name, colour)
    data = load_image_set(None, folder, 8, with_labels=True)
    assert data.label_names == {"label": ["cat", "dog"]}
    assert data.labels["label"].tolist() == [0, 0, 1]
    assert [tuple(i[0, 0]) for i in data.images] == [COLOURS["red"]] * 2 + [COLOURS["blue"]]
    # Without with_labels the same folder is a plain image folder.
    assert load_image_set(None, folder, 8).labels == {}


def test_num_images_caps_labelled_folders_across_their_classes(tmp_path, faces):
    # A spread over the sorted files, not the first N: those would all be cats.
    folder = tmp_path / "pets"
    for i in range(6):
        save(folder / "cat" / f"{i}.png", "red")
        save(folder / "dog" / f"{i}.png", "blue")
    data = load_image_set(None, folder, 8, num_images=4, with_labels=True)
    assert data.labels["label"].tolist() == [0, 0, 1, 1] and data.label_names == {"label": ["cat", "dog"]}
    assert len(load_image_set(None, folder, 8, with_labels=True).images) == 12
    with pytest.raises(UserError, match="--num-images 1 keeps images of a single class subfolder"):
        load_image_set(None, folder, 8, num_images=1, with_labels=True)
    folder, csv = faces  # rows a (red hair), b (blue), sub/c (green), d (red)
    data = load_image_set(None, folder, 8, num_images=2, labels_csv=csv)
    assert [tuple(i[0, 0]) for i in data.images] == [COLOURS["red"], COLOURS["green"]]  # rows a and c
    assert data.label_names["hair"] == ["green", "red"] and data.labels["hair"].tolist() == [1, 0]


def test_shapes_always_carry_shape_and_colour():
    data = load_image_set("shapes", None, 16, num_images=8, with_labels=True)
    assert set(data.labels) == {"shape", "color"} and data.label_names["color"][0] == "red"


@pytest.mark.parametrize("csv_text, message", [
    ("file,hair\nmissing.png,red", r"1 file\(s\) named in .* are not in .* \(first: missing.png\)"),
    ("file\na.png", r"expected a file-name column and at least one attribute column"),
    ("file,hair\na.png,", r"line 2: no value for attribute 'hair'"),
    ("file,hair\na.png,red,extra", r"line 2: 3 cells, but the header has 2 columns"),
    ("file,hair colour\na.png,red", r"attribute name 'hair colour' must hold only letters"),
    ("file,noise\na.png,red", r"attribute name 'noise'"),
    ("file,hair:red,hair:blue\na.png,1,1", r"line 2: attribute 'hair' needs exactly one 1 .* found 2"),
    ("file,hair:red,hair:blue\na.png,yes,0", r"line 2: one-hot columns of 'hair' must hold 0 or 1, got 'yes'"),
    ("file,hair,hair:red\na.png,red,1", r"attribute 'hair' has both a name column and one-hot columns"),
    ("file,hair\na.png,red\na.png,blue", r"lines 2 and 3 both label a.png"),
    ("file,hair\n", r"has a header but no image rows"),
    ("", r"is empty"),
    ("file,hair\na.png,a=b", r"class name 'a=b' must be non-empty and hold no ',' or '='"),
])
def test_bad_csv_files_are_one_line_errors(faces, tmp_path, csv_text, message):
    folder, _ = faces
    csv = tmp_path / "bad.csv"
    csv.write_text(csv_text)
    with pytest.raises(UserError, match=message) as error:
        label_source.load_csv_labels(folder, csv, 8)
    assert "\n" not in str(error.value)


def test_csv_that_is_not_utf8_is_a_one_line_error(faces, tmp_path):
    folder, _ = faces
    csv = tmp_path / "latin1.csv"
    csv.write_bytes("file,hair\na.png,châtain\nb.png,blond\n".encode("latin-1"))
    for load in (lambda: label_source.load_csv_labels(folder, csv, 8),
                 lambda: load_image_set(None, folder, 8, labels_csv=csv)):
        with pytest.raises(UserError, match=r"latin1.csv is not UTF-8 .*save it as UTF-8") as error:
            load()
        assert "\n" not in str(error.value)


@pytest.mark.parametrize("csv_text", [
    "file,hair,eyes\na.png,red,blue\nb.png,blue,blue\nsub/c.png,green,blue",
    "file,hair,eyes:blue,eyes:red\na.png,red,1,0\nb.png,blue,1,0\nsub/c.png,green,1,0",
])
def test_an_attribute_with_a_single_class_is_a_one_line_error(faces, tmp_path, csv_text):
    folder, _ = faces
    csv = write_csv(tmp_path / "eyes.csv", csv_text)
    for load in (lambda: label_source.load_csv_labels(folder, csv, 8),
                 lambda: load_image_set(None, folder, 8, labels_csv=csv)):
        with pytest.raises(UserError, match=r"eyes.csv: attribute 'eyes' has a single class \('blue'\)") as error:
            load()
        assert "\n" not in str(error.value)


def test_num_images_leaving_a_single_class_is_a_one_line_error(faces):
    folder, csv = faces  # hair: red, blue, green, red -> the first row alone has only red
    with pytest.raises(UserError, match=r"attribute 'hair' has a single class \('red'\).*--num-images 1"):
        load_image_set(None, folder, 8, num_images=1, labels_csv=csv)


def test_missing_csv_and_folder_errors(faces, tmp_path):
    folder, csv = faces
    with pytest.raises(UserError, match=r"label file not found: .*nope.csv \(check --labels-csv\)"):
        label_source.load_csv_labels(folder, tmp_path / "nope.csv", 8)
    with pytest.raises(UserError, match=r"image folder not found"):
        label_source.load_csv_labels(tmp_path / "nothing", csv, 8)
    with pytest.raises(UserError, match="--labels-csv labels a folder of images"):
        load_image_set("shapes", None, 8, labels_csv=csv)


def test_unreadable_image_in_a_csv_is_skipped_with_its_row(faces):
    folder, csv = faces
    (folder / "b.png").write_bytes(b"not a png")
    with pytest.warns(UserWarning, match="skipped 1 unreadable image"):
        images, labels, names = label_source.load_csv_labels(folder, csv, 8)
    assert len(images) == 3 and labels["hair"].tolist() == [1, 0, 1]  # a, c, d: red, green, red
    assert names["hair"] == ["green", "red"]


def test_bad_subfolder_layouts(tmp_path):
    loose = tmp_path / "loose"
    save(loose / "cat" / "1.png", "red")
    save(loose / "stray.png", "blue")
    with pytest.raises(UserError, match=r"1 image\(s\) outside any class subfolder \(first: stray.png\)"):
        load_image_set(None, loose, 8, with_labels=True)
    single = tmp_path / "single"
    save(single / "cat" / "1.png", "red")
    with pytest.raises(UserError, match="a single class subfolder"):
        load_image_set(None, single, 8, with_labels=True)


def test_course_dataset_has_no_labels(tmp_path):
    with pytest.raises(UserError, match="grumpifycat has no labels"):
        load_image_set("grumpifycat", tmp_path, 8, with_labels=True)


def test_tfds_class_label_names():
    import tensorflow_datasets as tfds

    with tfds.testing.mock_data(num_examples=4):
        builder = tfds.builder("mnist")
        assert label_source.tfds_label_names(builder, ["label"]) == {"label": [str(i) for i in range(10)]}
        with pytest.raises(UserError, match="TFDS dataset mnist has no label 'digit'; its features are image, label"):
            label_source.tfds_label_names(builder, ["digit"])
        with pytest.raises(UserError, match="mnist/image is not a class label"):
            label_source.tfds_label_names(builder, ["image"])


def test_tfds_images_come_with_labels_and_names(monkeypatch):
    from kerasgan.data import sources

    calls = {}

    def fake_load(name, split, size, data_dir, label_keys=(), max_images=None):
        calls["keys"] = label_keys
        return np.zeros((4, size, size, 3), np.uint8), {k: np.arange(4, dtype=np.int32) for k in label_keys}

    monkeypatch.setattr(sources, "load_tfds", fake_load)
    monkeypatch.setattr(sources, "tfds_builder", lambda name, data_dir=None: None)
    monkeypatch.setattr(sources, "tfds_label_names", lambda builder, keys: {k: list("abcd") for k in keys})
    data = load_image_set("fashion_mnist", None, 8, with_labels=True, label_keys=("label",))
    assert calls["keys"] == ("label",)
    assert data.labels["label"].tolist() == [0, 1, 2, 3] and data.label_names == {"label": list("abcd")}
    assert load_image_set("fashion_mnist", None, 8).labels == {}
