"""Attribute labels for image folders (class subfolders or a CSV) and TFDS class labels.

Listers return (files [N], labels {attribute: int32 [N]}, label_names {attribute: [class
names]}) for a streamed FileSource; loaders return decoded images (uint8 [N, S, S, 3]) in
place of the files. A label is an index into its attribute's class names.

Class subfolders: <folder>/<class>/**/image.png; the attribute is called `label`.

CSV (comma-separated, with a header row; one row per image):
- the first column is the image file name relative to the image folder (`0001.png`,
  `faces/0001.png`);
- a *name column* has the attribute as its header (`hair`) and a class name in each cell
  (`blue`);
- *one-hot columns* have `attribute:class` headers (`hair:blue`, `hair:red`, ...) and 0 or 1
  in each cell, exactly one 1 per attribute in every row.
Both kinds may be mixed. Classes are sorted (numerically when all are numbers). Images in
the folder that have no row are not used.

`max_images` (--num-images) keeps that many images spread evenly over the sorted files
(class subfolders) or over the CSV's rows, as for plain folders (folder.spread).

Attribute names become model input names: letters, digits and _, not starting with a digit.
"""

import csv
from pathlib import Path

import numpy as np

from kerasgan.data.folder import list_images, load_files, spread
from kerasgan.errors import MissingPath, UserError
from kerasgan.latent import RESERVED_NAMES, is_valid_attribute

SUBFOLDER_ATTRIBUTE = "label"


def _check_attribute(name, where):
    if not is_valid_attribute(name):
        raise UserError(f"{where}: attribute name {name!r} must hold only letters, digits and _ "
                        f"(not starting with a digit) and not be one of {', '.join(RESERVED_NAMES)}")


def _check_class(name, where):
    if not name or "," in name or "=" in name:
        raise UserError(f"{where}: class name {name!r} must be non-empty and hold no ',' or '='")


def sorted_classes(names):
    """Unique class names, in numeric order when every name is a number, else alphabetical."""
    unique = set(names)
    try:
        return sorted(unique, key=float)
    except ValueError:
        return sorted(unique)


def _encode(values):
    """Class names per image -> (int32 ids [N], sorted class names)."""
    classes = sorted_classes(values)
    index = {name: i for i, name in enumerate(classes)}
    return np.asarray([index[v] for v in values], np.int32), classes


# -- class subfolders ----------------------------------------------------------------------
def list_subfolder_labels(folder, max_images=None):
    """(files, labels, label_names) of <folder>/<class>/** images, labelled by class subfolder;
    listed, not decoded."""
    folder = Path(folder).expanduser()
    files = list_images(folder)
    loose = [f for f in files if f.parent == folder]
    if loose:
        raise UserError(f"{folder} holds {len(loose)} image(s) outside any class subfolder (first: "
                        f"{loose[0].name}): move each image into a subfolder named after its class, "
                        "or label the images with --labels-csv")
    classes = [f.relative_to(folder).parts[0] for f in files]
    if len(set(classes)) < 2:
        raise UserError(f"{folder} has a single class subfolder ({classes[0]}); a conditional model "
                        "needs at least two classes (one subfolder each)")
    for name in set(classes):
        _check_class(name, folder)
    files = spread(files, max_images)
    kept = {f.relative_to(folder).parts[0] for f in files}
    if len(kept) < 2:
        raise UserError(f"--num-images {max_images} keeps images of a single class subfolder ({min(kept)}) "
                        f"of {folder}; a conditional model needs at least two: ask for more images")
    ids, names = _encode([f.relative_to(folder).parts[0] for f in files])
    return files, {SUBFOLDER_ATTRIBUTE: ids}, {SUBFOLDER_ATTRIBUTE: names}


def load_subfolder_labels(folder, size, max_images=None):
    """Images under <folder>/<class>/ (recursively), decoded, labelled by the class subfolder name."""
    folder = Path(folder).expanduser()
    files, _, _ = list_subfolder_labels(folder, max_images)
    images, loaded = load_files(files, size, folder)
    ids, names = _encode([f.relative_to(folder).parts[0] for f in loaded])
    return images, {SUBFOLDER_ATTRIBUTE: ids}, {SUBFOLDER_ATTRIBUTE: names}


# -- CSV -----------------------------------------------------------------------------------
def _first_bad_byte(path):
    """Where a file stops being UTF-8, as "byte 0xe9 on line 3" (the reader's error counts
    from its last buffer, not from the file's start)."""
    data = path.read_bytes()
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = data[:error.start].count(b"\n") + 1
        return f"byte 0x{data[error.start]:02x} on line {line}"
    return "not decodable"


def read_csv(path):
    """The header and data rows of a CSV file, cells stripped; rows keep their line numbers."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise MissingPath(f"label file not found: {path} (check --labels-csv)")
    try:
        with open(path, newline="", encoding="utf-8-sig") as file:
            rows = [(number, [cell.strip() for cell in row]) for number, row in enumerate(csv.reader(file), 1)]
    except UnicodeDecodeError:
        raise UserError(f"{path} is not UTF-8 text ({_first_bad_byte(path)}): save it as UTF-8 "
                        "(a spreadsheet's 'CSV UTF-8' format)") from None
    rows = [(number, row) for number, row in rows if any(row)]  # blank lines
    if not rows:
        raise UserError(f"{path} is empty: expected a header row (file, attribute, ...) and one row per image")
    (_, header), body = rows[0], rows[1:]
    if len(header) < 2:
        raise UserError(f"{path}: the header has {len(header)} column(s); expected a file-name column "
                        "and at least one attribute column, separated by commas")
    if not body:
        raise UserError(f"{path} has a header but no image rows")
    for number, row in body:
        if len(row) != len(header):
            raise UserError(f"{path} line {number}: {len(row)} cells, but the header has {len(header)} columns")
    return header, body


def _name_column(path, column, header, body):
    attribute = header[column]
    values = []
    for number, row in body:
        value = row[column]
        if not value:
            raise UserError(f"{path} line {number}: no value for attribute {attribute!r}")
        _check_class(value, f"{path} line {number}")
        values.append(value)
    return values


def _one_hot_columns(path, attribute, columns, header, body):
    """Class names per row from the 0/1 columns `attribute:class`."""
    classes = [header[c].split(":", 1)[1].strip() for c in columns]
    values = []
    for number, row in body:
        cells = [row[c] for c in columns]
        bad = [cell for cell in cells if cell not in ("0", "1")]
        if bad:
            raise UserError(f"{path} line {number}: one-hot columns of {attribute!r} must hold 0 or 1, got {bad[0]!r}")
        if cells.count("1") != 1:
            raise UserError(f"{path} line {number}: attribute {attribute!r} needs exactly one 1 among "
                            f"{', '.join(header[c] for c in columns)}; found {cells.count('1')}")
        values.append(classes[cells.index("1")])
    return values


def parse_csv_labels(path, header, body):
    """-> (file names [N], {attribute: class name per row}), name and one-hot columns alike."""
    one_hot = {}
    by_name = {}
    for column, title in enumerate(header[1:], 1):
        if ":" in title:
            attribute, category = (part.strip() for part in title.split(":", 1))
            _check_class(category, f"{path} column {title!r}")
            one_hot.setdefault(attribute, []).append(column)
        else:
            attribute = title
            by_name[attribute] = column
        _check_attribute(attribute, f"{path} column {title!r}")
    both = set(one_hot) & set(by_name)
    if both:
        raise UserError(f"{path}: attribute {sorted(both)[0]!r} has both a name column and one-hot columns")
    values = {a: _name_column(path, c, header, body) for a, c in by_name.items()}
    values.update({a: _one_hot_columns(path, a, cs, header, body) for a, cs in one_hot.items()})
    ordered = [a for a in dict.fromkeys(t.split(":", 1)[0].strip() for t in header[1:])]
    return [row[0] for _, row in body], {a: values[a] for a in ordered}


def _resolve_files(folder, csv_path, names, body):
    folder = Path(folder).expanduser()
    if not folder.is_dir():
        raise MissingPath(f"image folder not found: {folder} (check --data-dir)")
    seen = {}
    for name, (number, _) in zip(names, body):
        if not name:
            raise UserError(f"{csv_path} line {number}: empty file name")
        if name in seen:
            raise UserError(f"{csv_path} lines {seen[name]} and {number} both label {name}")
        seen[name] = number
    files = [folder / name for name in names]
    missing = [name for name, path in zip(names, files) if not path.is_file()]
    if missing:
        raise UserError(f"{len(missing)} file(s) named in {csv_path} are not in {folder} (first: {missing[0]}); "
                        "the first column must be the file name relative to the image folder")
    return files


def _check_several_classes(csv_path, values, max_images=None):
    """Every attribute needs two classes or more: a conditional model learns nothing from one."""
    for attribute, per_row in values.items():
        classes = set(per_row)
        if len(classes) < 2:
            hint = (f" among the {len(per_row)} rows --num-images {max_images} keeps: ask for more images"
                    if max_images is not None else
                    ": a conditional model needs at least two classes per attribute; label more classes "
                    "or remove the attribute's column(s)")
            raise UserError(f"{csv_path}: attribute {attribute!r} has a single class ({min(classes)!r}){hint}")


def _rows(folder, csv_path, max_images):
    """(files, kept row numbers, {attribute: class name per row}) of a label CSV."""
    header, body = read_csv(csv_path)
    names, values = parse_csv_labels(csv_path, header, body)
    files = _resolve_files(folder, csv_path, names, body)
    _check_several_classes(csv_path, values)  # before the images load: the whole CSV
    return files, spread(range(len(files)), max_images), values


def _csv_labels(csv_path, values, kept, max_images, of_rows):
    _check_several_classes(csv_path, {a: [per_row[i] for i in kept] for a, per_row in values.items()},
                           max_images if of_rows else None)
    labels, label_names = {}, {}
    for attribute, per_row in values.items():
        labels[attribute], label_names[attribute] = _encode([per_row[i] for i in kept])
    return labels, label_names


def list_csv_labels(folder, csv_path, max_images=None):
    """(files, labels, label_names) of the images a CSV names; listed, not decoded."""
    files, rows, values = _rows(folder, csv_path, max_images)
    return ([files[i] for i in rows], *_csv_labels(csv_path, values, rows, max_images, len(rows) < len(files)))


def load_csv_labels(folder, csv_path, size, max_images=None):
    """The images a CSV names (relative to `folder`), decoded, with their attributes; see the module doc."""
    files, rows, values = _rows(folder, csv_path, max_images)
    images, loaded = load_files([files[i] for i in rows], size, csv_path)
    loaded = set(loaded)
    kept = [i for i in rows if files[i] in loaded]
    return (images, *_csv_labels(csv_path, values, kept, max_images, len(rows) < len(files)))


# -- TFDS ----------------------------------------------------------------------------------
def tfds_label_names(builder, keys):
    """{key: class names} for the ClassLabel features `keys` of a TFDS builder."""
    features = builder.info.features
    names = {}
    for key in keys:
        if key not in features:
            raise UserError(f"TFDS dataset {builder.name} has no label {key!r}; its features are "
                            f"{', '.join(sorted(features))} (see --label-keys)")
        classes = getattr(features[key], "names", None)
        if not classes:
            raise UserError(f"TFDS feature {builder.name}/{key} is not a class label (see --label-keys)")
        _check_attribute(key, f"TFDS {builder.name}")
        names[key] = list(classes)
    return names
