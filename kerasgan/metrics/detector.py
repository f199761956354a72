"""Detection rate: the share of images in which an OpenCV Haar/LBP cascade finds its object.

An offline, model-free check of generated images: "73% of samples have a cat face the
cascade finds, against 81% of real cats". Bring a cascade file; OpenCV's pip package ships
the common ones in `cv2.data.haarcascades` (haarcascade_frontalcatface.xml,
haarcascade_frontalface_default.xml, ...), and github.com/opencv/opencv keeps them under
data/haarcascades and data/lbpcascades.

Every image is made grey and resized so its shorter side is `size` px before the cascade
sweeps it. A cascade's window is about 24x24 px and its object rarely fills the frame, so a
32 or 64 px sample is too small to be found reliably as it is: on the 64 px Grumpy Cat
faces the cat-face cascade finds 55% of the cats at 32 px unscaled, 97% at 128 px. Larger
working sizes let the cascade's many small windows fire on texture (9% of 64 px noise images
at 256 px, none at 128), so 128 is the default. docs/evaluation.md has the measurements.

cv2 is imported only here, when a `Detector` is made, so `import kerasgan` stays light.
"""

from pathlib import Path

import numpy as np

from kerasgan.errors import InvalidValue, MissingPath, UserError
from kerasgan.images import to_uint8
from kerasgan.progress import progress_bar

DEFAULT_SIZE = 128  # px of the shorter side the cascade sees (see the module docstring)
DEFAULT_SCALE_FACTOR = 1.1  # OpenCV's detectMultiScale default: window grows 10% per scale
DEFAULT_MIN_NEIGHBORS = 3  # OpenCV's default: overlapping hits needed to keep a detection


def import_cv2():
    """The cv2 module, or a UserError saying how to install a version with cascades."""
    try:
        import cv2
    except ImportError as error:
        raise UserError(f"the detection rate needs OpenCV ({error}): pip install opencv-python-headless") from None
    if not hasattr(cv2, "CascadeClassifier"):  # OpenCV 5 moved cascades out of the main package
        raise UserError(f"OpenCV {cv2.__version__} has no CascadeClassifier: "
                        "pip install 'opencv-python-headless<5'")
    return cv2


class Detector:
    """An OpenCV cascade (Haar or LBP .xml) and how to sweep it over an image.

    Args:
        path: the cascade file, e.g. `cv2.data.haarcascades + "haarcascade_frontalcatface.xml"`.
        size: the shorter side (px) every image is resized to before detecting; None keeps
            each image's own size.
        scale_factor: how much the search window grows between scales (> 1; smaller is
            slower and finds more).
        min_neighbors: overlapping raw hits a detection needs (higher: fewer false ones).
    """

    def __init__(self, path, size=DEFAULT_SIZE, scale_factor=DEFAULT_SCALE_FACTOR,
                 min_neighbors=DEFAULT_MIN_NEIGHBORS):
        if size is not None and size < 24:
            raise InvalidValue(f"detector size must be at least 24 px (a cascade's window); got {size}")
        if not scale_factor > 1:
            raise InvalidValue(f"detector scale factor must be above 1; got {scale_factor}")
        if min_neighbors < 0:
            raise InvalidValue(f"detector min neighbours must be 0 or more; got {min_neighbors}")
        path = Path(path).expanduser()
        if not path.is_file():
            raise MissingPath(f"cascade file not found: {path}")
        self.cv2 = import_cv2()
        self.cascade = self.cv2.CascadeClassifier()
        # load() returns False for a readable file without a cascade in it, and raises
        # cv2.error for one its XML/YAML parser rejects.
        try:
            loaded = self.cascade.load(str(path)) and not self.cascade.empty()
        except self.cv2.error:
            loaded = False
        if not loaded:
            raise InvalidValue(f"{path} is not a cascade OpenCV can read (a Haar or LBP .xml, e.g. from "
                               "cv2.data.haarcascades)")
        self.path, self.size = path, size
        self.scale_factor, self.min_neighbors = float(scale_factor), int(min_neighbors)

    def working_image(self, image):
        """uint8 [H, W] (grey) or [H, W, 1|3] (RGB) -> the grey uint8 image the cascade sweeps."""
        cv2 = self.cv2
        if image.ndim == 3:
            image = image[..., 0] if image.shape[-1] == 1 else cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
        if self.size is None:
            return np.ascontiguousarray(image)
        height, width = image.shape
        scale = self.size / min(height, width)
        if scale == 1:
            return np.ascontiguousarray(image)
        shape = (max(1, round(width * scale)), max(1, round(height * scale)))
        return cv2.resize(image, shape, interpolation=cv2.INTER_LINEAR if scale > 1 else cv2.INTER_AREA)

    def detect(self, image):
        """Boxes [n, 4] (x, y, w, h, in the working image's pixels) found in one uint8 image."""
        boxes = self.cascade.detectMultiScale(self.working_image(image), scaleFactor=self.scale_factor,
                                              minNeighbors=self.min_neighbors)
        return np.asarray(boxes, np.int32).reshape(-1, 4)

    def __call__(self, images):
        """bool [N]: whether each image (uint8, or float in [-1, 1]) has at least one detection."""
        return np.array([len(self.detect(image)) > 0 for image in as_uint8(images)], bool)

    def describe(self):
        """The settings that make two rates comparable, for a report."""
        size = f"{self.size} px" if self.size else "own size"
        return (f"{self.path.name} at {size}, scale factor {self.scale_factor:g}, "
                f"min neighbours {self.min_neighbors}")


def as_uint8(images):
    """A batch (array [N, H, W(, C)] or a list of differently sized images) as uint8 images;
    floats are read as [-1, 1], as the generators give them."""
    if isinstance(images, np.ndarray) and images.dtype == np.uint8:
        return images
    converted = []
    for image in images:
        image = np.asarray(image)
        if image.dtype != np.uint8:
            if not np.issubdtype(image.dtype, np.floating):
                raise InvalidValue(f"images must be uint8 or float in [-1, 1]; got {image.dtype}")
            if image.size and (image.min() < -1.5 or image.max() > 1.5):
                raise InvalidValue(f"float images must be in [-1, 1] (got {image.min():.3g}..{image.max():.3g}); "
                                   "pass uint8 for 0..255")
            image = to_uint8(image)
        converted.append(image)
    return converted


def detection_rate(images, detector, batch_size=256, progress=False, description="detecting"):
    """The share of `images` in which `detector` finds at least one object.

    Args:
        images: uint8 or [-1, 1] float images of any size: an array [N, H, W(, C)], a list of
            arrays, or a source (kerasgan/data/sources.py), read `batch_size` at a time.
        detector: a `Detector`.
        progress: show a progress bar named `description`.

    Returns:
        dict with rate (float in [0, 1]), detected (int) and images (int).
    """
    from kerasgan.data.source import Source

    if isinstance(images, Source):
        batches = (batch for batch, _ in images.batches(batch_size))
    else:
        batches = (images[start:start + batch_size] for start in range(0, len(images), batch_size))
    bar = progress_bar(len(images), description, "img", enabled=progress)
    found = 0
    for batch in batches:
        found += int(detector(batch).sum())
        bar.update(len(batch))
    bar.close()
    return rate_of(found, len(images))


def generated_detection_rate(generate_fn, detector, num_samples, batch_size=64, seed=0, progress=False):
    """`detection_rate` of `num_samples` images from `generate_fn(count, seed + batch index)`
    (the samplers of kerasgan/metrics/callback.py), generated a batch at a time."""
    from kerasgan.metrics.callback import generated_features

    found = generated_features(generate_fn, detector, num_samples, batch_size, seed, progress=progress)
    return rate_of(int(found.sum()), num_samples)


def rate_of(found, total):
    return {"rate": found / total if total else float("nan"), "detected": found, "images": total}
