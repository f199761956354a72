"""One typed config per recipe: every option, its default, and the per-model and per-size defaults.

`GANConfig` covers `train_dcgan.py` (the whole GAN family), `CycleGANConfig` covers
`train_cyclegan.py`. The command-line parsers are built from these fields (kerasgan/commands),
a run's `config.json` is written from them in field order and read back into them, and the
Python API takes the same names as keyword arguments:

    GANConfig(model="wgan-gp", image_size=32).resolved()   # every None filled in

A field whose default is None and that appears in a `*_DEFAULTS` table below is filled by
`resolved()` from the chosen model (GAN) or the image size (CycleGAN); an option given
explicitly always wins. `check()` rejects values no run can use, with one line naming the flag.
"""

import dataclasses
import math
import re
from dataclasses import dataclass, field

# Each choice list is defined once, by the mechanism it names; the flags and checks here use it.
from kerasgan.augment.preprocess import PREPROCESSING
from kerasgan.data.cache import CACHES
from kerasgan.errors import InvalidValue
from kerasgan.latent import D_CONDITIONING, G_CONDITIONING, LATENT_PRIORS
from kerasgan.losses import ADVERSARIAL_LOSSES, CYCLE_LOSSES
from kerasgan.nets.cyclegan import DISCRIMINATORS
from kerasgan.nets.dcgan import UPSAMPLING
from kerasgan.nets.layers import ACTIVATIONS, INITS, NORMS
from kerasgan.scale import PRECISIONS, STRATEGIES, XLA_MODES
from kerasgan.trainers.cycle import CYCLE_ADVERSARIAL_LOSSES
from kerasgan.trainers.diffusion import NOISE_SCHEDULES, PREDICTIONS
from kerasgan.trainers.gan import LSGAN_TARGETS
from kerasgan.trainers.infogan import CONTINUOUS_LOSSES
from kerasgan.trainers.schedules import SCHEDULES

# The GAN family: what each model is (its defaults come from the tables below; `models_help`).
MODEL_DESCRIPTIONS = {
    "dcgan": "DCGAN (Radford et al. 2016)",
    "gan": "MLP generator and discriminator (Goodfellow et al. 2014)",
    "cgan": "conditional MLP GAN (Mirza & Osindero 2014)",
    "cdcgan": "conditional DCGAN",
    "wgan": "Wasserstein GAN, critic weights clipped (Arjovsky et al. 2017)",
    "wgan-gp": "Wasserstein GAN, gradient penalty (Gulrajani et al. 2017)",
    "lsgan": "least squares GAN with a/b/c targets (Mao et al. 2017)",
    "infogan": "InfoGAN, categorical and continuous codes learnt by a Q head (Chen et al. 2016)",
    "began": "BEGAN, autoencoder discriminator with k_t control (Berthelot et al. 2017)",
    "fastgan": "FastGAN, skip-layer excitation in G, a D that redraws real images (Liu et al. 2021)",
}
MODELS = tuple(MODEL_DESCRIPTIONS)
# The models whose D has the minibatch standard deviation option: nets/dcgan.py's, BEGAN's encoder.
MINIBATCH_STD_MODELS = ("dcgan", "lsgan", "wgan", "wgan-gp", "began")
# The models whose G is nets/dcgan.py's build_generator (the --g-full-res-convs option).
DCGAN_G_MODELS = ("dcgan", "lsgan", "wgan", "wgan-gp")
CONDITIONAL = ("cgan", "cdcgan")
# cdcgan's defaults, chosen by label accuracy on shapes-dot (README, Conditional models);
# cgan keeps its MLP's concatenation on both sides.
# On its centred dot, G concat + D projection reached 0.83 of 0.98 after 1500 steps where
# today's concat + concat stayed near chance (0.30 after 600) and cbn + acgan at 0.65.
CONDITIONING_DEFAULTS = {"cdcgan": {"g_conditioning": "concat", "d_conditioning": "projection"},
                         "cgan": {"g_conditioning": "concat", "d_conditioning": "concat"}}
# kerasgan/data/cache.py; the same batches whichever is chosen, so a resumed run may change it.
CACHE_HELP = ("where decoded images are kept: memory (decoded once at start), disk (decoded once into "
              "~/.cache/kerasgan/images, reused by later runs: for photos much larger than --image-size), none "
              "(decoded from the files as training reads them; memory stays flat); auto: memory when the decoded "
              "images take at most 512 MiB (40,000 images at 64 px, 10,000 at 128), else none. Same batches "
              "either way")
VERBOSITY = (0, 1, 2)
VERBOSE_HELP = ("progress of the run: 1, a bar over the whole run (step N of M, rate, time left, the step's losses); "
                "2, a line every 5%% of the run, for logs; 0, none")
# Run and model names: one folder name, not hidden (so never "." or ".."), safe in any shell.
NAME_PATTERN = r"[A-Za-z0-9_-][A-Za-z0-9._-]*"


def is_valid_name(name):
    return re.fullmatch(NAME_PATTERN, name) is not None

# -- the GAN family's defaults (train_dcgan.py --model NAME) ---------------------------------
GAN_BASE_DEFAULTS = {"loss": "lsgan", "optimizer": "adam", "lr": 2e-4, "beta1": 0.5, "beta2": 0.999,
                     "n_critic": 1, "latent": "normal", "noise_dim": 100, "image_size": 64, "init": "normal",
                     "ema": 0.0, "batch_size": 16, "diffaug": "", "width": 32, "g_full_res_convs": 0,
                     "mode_seeking": 0.0}
GAN_MODEL_DEFAULTS = {
    "dcgan": {},
    "gan": {"loss": "bce", "image_size": 32},
    "cgan": {"loss": "bce", "image_size": 32},
    # Mode seeking on: without it cdcgan drew one image per label set on shapes-dot (docs/results.md,
    # "Variety within a label").
    "cdcgan": {"loss": "bce", "mode_seeking": 2.0},
    "wgan": {"loss": "wgan"},
    "wgan-gp": {"loss": "wgan-gp"},
    "lsgan": {"loss": "lsgan"},
    # Noise ~ U(-1, 1) as the paper's code: under N(0, 1) noise (norm 7.9 vs the one-hot code's 1)
    # the noise chose the digit and the 10-way code only the stroke (code/digit agreement 0.32 on
    # MNIST; 0.72 with uniform noise, #18).
    "infogan": {"loss": "bce", "noise_dim": 62, "latent": "uniform"},
    # No normalization in BEGAN's nets: N(0, 0.02) would shrink the signal through its deep stacks.
    "began": {"lr": 1e-4, "latent": "uniform", "noise_dim": 64, "init": "xavier"},
    # The paper's few-shot settings (Adam 2e-4, betas 0.5 and 0.999, batch 8, hinge, DiffAugment
    # colour, translation and cutout, G's moving average; noise 256 as its code) at width 16,
    # a quarter of the paper's 64, for CPUs (docs/fastgan.md has the cost per step of each).
    "fastgan": {"loss": "hinge", "lr": 2e-4, "beta1": 0.5, "beta2": 0.999, "batch_size": 8, "ema": 0.999,
                "diffaug": "color,translation,cutout", "noise_dim": 256, "width": 16},
}
# The sizes each generator builds: FastGAN's from 32 to 512, the others' to 256.
FASTGAN_SIZES = (32, 64, 128, 256, 512)
# What adaptive augmentation applies when --diffaug does not say.
ADA_DEFAULT_POLICY = "color,translation,cutout"
# The DCGAN on the built-in shapes (the README's first run), the best of the settings measured
# in #13 by the shapes judge's clean-shape rate on 1000 samples: 69.5% and 70.8% at 4000 steps
# (seeds 0 and 1; 5.0 min on an AVX2 2-core CPU), 78% at 8000. With cutout added: 65.0% and 66.2%.
# Width 32 (180 ms a step against 70): 63% at 3000 steps in 10.6 min; the generic defaults at 64
# px 20-40% (G 5x faster than D: 48% without it and DiffAugment; 16384 images: no gain).
# Convs at full resolution after G's last upsampling conv (--g-full-res-convs; 0 is DCGAN's G)
# then lifted it at 4000 steps: 1, 78.9% and 80.5% (seeds 0 and 1; 5.5 min); 2, 86.3% and 79.4%
# (5.9 min); 3, 85.3% (seed 0). Every other change measured stayed within 5 points of 70%.
# With them DiffAugment translation stopped helping, so it is off (the 8000- and 12000-step
# figures with and without it are in the README's first-run section).
# Like INFOGAN_G_LR, g_lr applies only when --lr is not given.
SHAPES_DCGAN_DEFAULTS = {"image_size": 32, "loss": "bce", "batch_size": 32, "ema": 0.999, "g_lr": 1e-3,
                         "diffaug": "", "width": 16, "g_full_res_convs": 2}
# InfoGAN's G learns 5x faster than D, as in the paper's MNIST setting (G 1e-3, D 2e-4): at
# 2e-4 for both, D won (logits +-2.4), G collapsed to a few blobby strokes and the 10-way
# code agreed with the digits 25-28% of the time (#18). Applies when neither --lr nor --g-lr is given.
INFOGAN_G_LR = 1e-3
# The papers' settings for the Wasserstein losses.
GAN_LOSS_DEFAULTS = {
    "wgan": {"optimizer": "rmsprop", "lr": 5e-5, "n_critic": 5},
    "wgan-gp": {"optimizer": "adam", "lr": 1e-4, "beta1": 0.0, "beta2": 0.9, "n_critic": 5, "d_norm": "none"},
}

# -- CycleGAN's defaults: the course's at 64x64, the paper's at 256x256 ----------------------
PAPER_SIZE, PAPER_LOAD_SIZE = 256, 286
CYCLEGAN_SIZE_DEFAULTS = {
    "course": {"batch_size": 16, "data_preprocess": "basic", "num_samples": 8, "g_blocks": 6},
    "paper": {"batch_size": 1, "data_preprocess": "deluxe", "num_samples": 4, "g_blocks": 9},
}


def option(default, help="", flags=(), group="run", choices=None, nargs=None, metavar=None, const=None,
           changes_run=True, positive=False):
    """A config field with what its command-line flag needs.

    `flags` are the flag spellings (the first is the main one; default `--field-name`);
    `changes_run=False` marks options a resumed run may change (length, logging, output);
    `positive` marks counts that must be at least 1.
    """
    metadata = {"help": help, "flags": tuple(flags), "group": group, "choices": choices, "nargs": nargs,
                "metavar": metavar, "const": const, "changes_run": changes_run, "positive": positive}
    if isinstance(default, (list, dict)):
        return field(default_factory=lambda: type(default)(default), metadata=metadata)
    return field(default=default, metadata=metadata)


def flags_of(f):
    return f.metadata.get("flags") or ("--" + f.name.replace("_", "-"),)


class Config:
    """What GANConfig and CycleGANConfig share: dict/JSON round trip, defaults, checks."""

    # The command that trains a run of this config (for messages about a run).
    command = "kerasgan train"

    @classmethod
    def fields(cls):
        return dataclasses.fields(cls)

    # Fields added after runs were first written, with the value a run's config.json that lacks
    # them was trained with (its defaults may have changed since).
    ADDED_FIELDS = {}

    @classmethod
    def from_dict(cls, values, strict=True):
        """A config from {field: value}; unknown keys are an error unless `strict=False` (a run's
        saved config.json, where a missing ADDED_FIELDS key takes the value it was trained with)."""
        names = {f.name for f in cls.fields()}
        unknown = sorted(set(values) - names)
        if unknown and strict:
            close = ", ".join(unknown)
            raise InvalidValue(f"unknown {cls.__name__} option(s): {close}")
        kwargs = {k: (tuple(v) if isinstance(v, list) else v) for k, v in values.items() if k in names}
        if not strict:
            kwargs = {**cls.ADDED_FIELDS, **kwargs}
        return cls(**kwargs)

    def to_dict(self):
        """{field: value} in field order (tuples as lists, as JSON has them)."""
        return {f.name: (list(v) if isinstance(v := getattr(self, f.name), tuple) else v) for f in self.fields()}

    def replace(self, **changes):
        return dataclasses.replace(self, **changes)

    def differences(self, other, only_run_changing=True):
        """[(field, self's value, other's value)] of the fields that differ."""
        out = []
        for f in self.fields():
            if only_run_changing and not f.metadata.get("changes_run", True):
                continue
            mine, theirs = getattr(self, f.name), getattr(other, f.name)
            if _normal(mine) != _normal(theirs):
                out.append((f.name, mine, theirs))
        return out

    def _fill(self, defaults):
        return self.replace(**{k: v for k, v in defaults.items() if getattr(self, k) is None})

    @property
    def diffaug_policy(self):
        """The DiffAugment policy names, checked."""
        from kerasgan.augment.diffaug import parse_policy

        try:
            return parse_policy(self.diffaug)
        except ValueError as error:
            raise InvalidValue(str(error)) from None

    def check_common(self):
        """Checks shared by every recipe; each failure is one line naming the flag."""
        for f in self.fields():
            value = getattr(self, f.name)
            if f.metadata.get("positive") and value is not None and (not isinstance(value, int) or value < 1):
                raise InvalidValue(f"{flags_of(f)[0]} must be a positive integer, got {value}")
            choices = f.metadata.get("choices")
            if choices and value is not None and value not in choices:
                raise InvalidValue(f"{flags_of(f)[0]} must be one of {', '.join(map(str, choices))}, got {value!r}")
        if not (math.isfinite(self.max_loss) and self.max_loss >= 0):
            raise InvalidValue(f"--max-loss must be 0 (off) or a positive number, got {self.max_loss}")
        if not (isinstance(self.seed, int) and 0 <= self.seed < 2**32):
            raise InvalidValue(f"--seed must be a whole number from 0 to {2**32 - 1}, got {self.seed}")
        if getattr(self, "fid_every", 0) < 0:
            raise InvalidValue(f"--fid-every must be 0 or more, got {self.fid_every}")
        for name in ("lr", "g_lr", "d_lr"):
            value = getattr(self, name)
            if value is not None and not (math.isfinite(value) and value > 0):
                raise InvalidValue(f"--{name.replace('_', '-')} must be a positive number, got {value}")
        for name in ("beta1", "beta2"):
            value = getattr(self, name)
            if value is not None and not 0.0 <= value < 1.0:
                raise InvalidValue(f"--{name} must be in [0, 1), got {value}")
        if self.name is not None and not is_valid_name(self.name):
            raise InvalidValue(f"--name {self.name!r} may only hold letters, digits, '.', '_' and '-', and may not "
                            "start with '.'")
        if self.dataset in ("shapes", "shapes-dot") and self.data_dir:
            raise InvalidValue(f"--dataset {self.dataset} is built in and reads no files: drop --data-dir, or drop "
                            "--dataset to train on the folder")
        if self.steps is not None and self.epochs is not None:
            raise InvalidValue(f"--steps {self.steps} and --epochs {self.epochs} both set the run's length: give one")
        self.diffaug_policy  # noqa: B018  (raises on an unknown policy)
        return self


def _normal(value):
    if isinstance(value, (list, tuple)):
        return tuple(_normal(v) for v in value)
    if isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    return value


@dataclass
class GANConfig(Config):
    """Every option of a GAN-family run (`train_dcgan.py`); None means the model's default."""

    # Runs from before #17 conditioned by concatenation on both sides, with mismatched negatives
    # unless no_mismatch (mismatch None: decided by no_mismatch and the method, see `uses_mismatch`).
    ADDED_FIELDS = {"ema": 0.0, "g_conditioning": "concat", "d_conditioning": "concat", "mismatch": None,
                    "ac_weight": 1.0, "g_full_res_convs": 0, "ada": False, "mode_seeking": 0.0}

    # data
    dataset: str | None = option(None, "shapes (built in, default), shapes-dot (shapes with a small coloured dot, "
                                       "attribute dot), grumpifycat (course layout under --data-dir), "
                                       "or a TensorFlow Datasets name", group="data")
    data_dir: str | None = option(None, "a folder of images (streamed from disk) or a zip from `kerasgan prepare`; "
                                        "the data root for grumpifycat; the TFDS data_dir",
                                  flags=("--data-dir", "--data_dir"), group="data")
    image_size: int | None = option(None, "16, 32, 64, 128 or 256, fastgan 32 to 512 (default 64; gan, cgan, and "
                                          "dcgan on shapes 32)",
                                    flags=("--image-size", "--image_size"), group="data",
                                    choices=(16, 32, 64, 128, 256, 512))
    data_preprocess: str = option("basic", "basic: resize only; deluxe: 1.1x bicubic resize, random crop, "
                                           "random flip", flags=("--data-preprocess", "--data_preprocess"),
                                  group="data", choices=PREPROCESSING)
    # Resolved from the data when training starts (GAN.fit) and recorded in config.json, so
    # load_run and resume rebuild the same networks.
    channels: int | None = option(None, "image channels of G and D: 1 (greyscale) or 3 (default: 1 when every "
                                        "training image is greyscale, e.g. MNIST, else 3; in a folder or zip of "
                                        "more than 256 images, every image of 256 spread evenly over it)",
                                  group="data",
                                  choices=(1, 3))
    num_images: int | None = option(None, "images to generate (shapes) or to read at most (folders, TFDS)",
                                    group="data", positive=True)
    cache: str = option("auto", CACHE_HELP, group="data", choices=CACHES,
                        changes_run=False)
    diffaug: str | None = option(None, "DiffAugment policies applied to real and fake images, e.g. "
                                     "color,translation,cutout (bare flag: all three; none: off; default off)",
                          flags=("--diffaug", "--use_diffaug"), group="data", nargs="?",
                          const="color,translation,cutout")
    # adaptive augmentation
    ada: bool = option(False, "adaptive augmentation (Karras et al. 2020): the --diffaug policies (default "
                              f"{ADA_DEFAULT_POLICY}) each applied to an image with a probability p that rises while "
                              "D grows sure of the real images and falls otherwise; logged as ada_p", group="ADA")
    ada_target: float = option(0.6, "the value of E[sign(D(real))] that p steers towards", group="ADA")
    ada_interval: int = option(4, "steps between updates of p", group="ADA", positive=True)
    ada_kimg: float = option(20.0, "thousands of real images over which p can move by 1 (the paper's 500 is for "
                                   "runs of millions of images)", group="ADA")
    # run
    name: str | None = option(None, "run name (default: derived from model and data)", changes_run=False)
    runs_dir: str = option("runs", changes_run=False)
    exports_dir: str = option("exports", changes_run=False)
    seed: int = option(0)
    steps: int | None = option(None, "training steps (G updates)", changes_run=False, positive=True)
    epochs: int | None = option(None, "passes over the data (default: 100)", flags=("--epochs", "--num_epochs"),
                                changes_run=False, positive=True)
    batch_size: int | None = option(None, "default 16; dcgan on shapes 32", flags=("--batch-size", "--batch_size"),
                                    positive=True)
    sample_every: int = option(200, flags=("--sample-every", "--sample_every"), changes_run=False, positive=True)
    checkpoint_every: int = option(500, flags=("--checkpoint-every", "--checkpoint_every"), changes_run=False, positive=True)
    log_every: int = option(10, "TensorBoard scalar interval", changes_run=False, positive=True)
    xla: str = option("auto", "compile the train step with XLA; auto: on GPUs only (on CPUs TensorFlow's "
                              "oneDNN graph kernels were faster, see README Benchmarks)",
                      choices=XLA_MODES, changes_run=False)
    no_export: bool = option(False, "skip the SavedModel export at the end", changes_run=False)
    verbose: int = option(1, VERBOSE_HELP, choices=VERBOSITY, changes_run=False)
    max_loss: float = option(1e6, "stop the run as a diverged one (exit status 3, nothing exported) when a loss stays "
                                  "above this magnitude for 10 steps in a row; 0: never", changes_run=False)
    # optimization
    lr: float | None = option(None, "learning rate of both nets (default 2e-4; wgan 5e-5, wgan-gp and began 1e-4)",
                              group="optimization")
    g_lr: float | None = option(None, "generator learning rate (default: --lr; infogan, and dcgan on shapes, 1e-3 "
                                      "unless --lr)",
                                group="optimization")
    d_lr: float | None = option(None, "discriminator learning rate (default: --lr)", group="optimization")
    beta1: float | None = option(None, "Adam beta1 (default 0.5; wgan-gp 0)", group="optimization")
    beta2: float | None = option(None, "Adam beta2 (default 0.999; wgan-gp 0.9)", group="optimization")
    optimizer: str | None = option(None, "default adam; rmsprop for wgan", group="optimization",
                                   choices=("adam", "rmsprop"))
    lr_schedule: str = option("constant", "decay to 0 over the run", group="optimization", choices=SCHEDULES)
    lr_decay_start: int = option(0, "with --lr-schedule linear: hold the rate until this step, then decay to 0 at "
                                    "--steps (CycleGAN's shape; default 0: decay over the whole run)",
                                 group="optimization", metavar="STEP")
    ema: float | None = option(None, "exponential moving average of G's weights with this decay, e.g. 0.999, "
                                     "used for sample grids, FID, sample() and the export (default 0: off; dcgan on shapes 0.999)",
                               group="optimization", metavar="DECAY")
    # speed and scale
    precision: str = option("float32", "mixed_float16 (GPUs, with loss scaling) or mixed_bfloat16 (TPUs, "
                                       "recent CPUs/GPUs)", group="speed and scale", choices=PRECISIONS)
    strategy: str = option("none", "mirrored: all local GPUs; multiworker: several machines configured by "
                                   "TF_CONFIG", group="speed and scale", choices=STRATEGIES, changes_run=False)
    # FID / KID
    fid_every: int = option(0, "steps between FID/KID evaluations, also run at the end (0: off)",
                            group="FID / KID", changes_run=False)
    fid_samples: int | None = option(None, "generated images per evaluation (default: as many as the real "
                                           "set, at least 1000, at most 10000)", group="FID / KID",
                                     changes_run=False, positive=True)
    fid_weights: str = option("imagenet", "InceptionV3 no-top weights: imagenet (Keras' download, cached in "
                                          "~/.keras/models), a local .h5 file, or random (untrained network: "
                                          "offline smoke tests only, scores mean nothing)",
                              group="FID / KID", changes_run=False)
    fid_batch_size: int = option(50, "images per Inception forward pass", group="FID / KID", changes_run=False, positive=True)
    # model
    model: str = option("dcgan", "the GAN variant (see below)", group="model", choices=MODELS)
    loss: str | None = option(None, "adversarial loss (default: the model's; dcgan on shapes bce)", group="model",
                             choices=ADVERSARIAL_LOSSES)
    noise_dim: int | None = option(None, "default 100 (infogan 62, began 64)", flags=("--noise-dim", "--noise_size"),
                                   group="model", positive=True)
    width: int | None = option(None, "base channel count (default 32; dcgan on shapes 16): G starts at width*8 "
                                     "channels, D ends there (MLP: hidden layers of width*8..width*32 units)",
                               flags=("--width", "--conv_dim"), group="model", positive=True)
    g_upsample: str = option("upsample", group="model", choices=UPSAMPLING)
    g_full_res_convs: int | None = option(None, "convs with norm and activation at full resolution after G's last "
                                                "upsampling, then a 3x3 conv draws the image from their features "
                                                "(default 0: DCGAN, the last upsampling conv draws it; dcgan on "
                                                "shapes 2): sharper edges (dcgan, lsgan, wgan, wgan-gp; up to 128 px)",
                                          group="model", metavar="N")
    norm: str = option("batch", group="model", choices=NORMS)
    d_norm: str | None = option(None, "D's normalization (default: --norm; none for wgan-gp)", group="model",
                                choices=NORMS)
    spectral_norm: bool = option(False, "spectral normalization on D's convs", group="model")
    minibatch_std: bool = option(False, "ProGAN's minibatch standard deviation in D, against G drawing too few "
                                        "kinds of image (dcgan, lsgan, wgan, wgan-gp, began)", group="model")
    init: str | None = option(None, "weight init: DCGAN's N(0, 0.02) (default), Xavier (began's default) or "
                                    "Kaiming", group="model", choices=INITS)
    activation: str | None = option(None, "for G and D (default: G relu, D leaky_relu; MLP leaky_relu; began elu)",
                                    group="model", choices=ACTIVATIONS)
    latent: str | None = option(None, "noise prior: normal, or uniform(-1, 1) (default for began and infogan)", group="model",
                                choices=LATENT_PRIORS)
    n_critic: int | None = option(None, "D updates per G update (default 1; 5 for wgan and wgan-gp)",
                                  flags=("--n-critic", "--d_train_iters"), group="model", positive=True)
    gp_weight: float = option(10.0, "WGAN-GP lambda", group="model")
    gp_center: float = option(1.0, "the gradient norm WGAN-GP's penalty pulls D toward between real and fake "
                                   "images: 1 (Gulrajani et al.) or 0 (zero-centred, Thanh-Tung et al. 2019)",
                              group="model")
    clip_value: float = option(0.01, "WGAN weight clipping bound c", group="model")
    r1: float = option(0.0, "R1 penalty weight gamma: D's squared gradient on real images times gamma / 2 "
                            "(Mescheder et al. 2018; lsgan, bce, hinge; 0: off)", group="model")
    lsgan_targets: tuple = option(LSGAN_TARGETS, "least squares targets: D pushes fake to a and real to b, G "
                                                   "pushes fake to c (default 0 1 1; the Pearson chi^2 choice is "
                                                   "-1 1 0)", group="model", nargs=3, metavar=("A", "B", "C"))
    label_smoothing: float = option(0.0, "one-sided: real target 1 - s (lsgan, bce)", group="model")
    noisy_labels: bool = option(False, "real targets ~ U(0.7, 1.2), fake ~ U(0, 0.3) (lsgan, bce)", group="model")
    interpolate: bool = option(False, "write a latent interpolation GIF at the end (unconditional models)",
                               group="model", changes_run=False)
    # labels
    labels_csv: str | None = option(None, "CSV labelling the images of --data-dir: first column the file name, "
                                          "then one column per attribute (class names) or one-hot columns "
                                          "headed attribute:class", group="labels")
    label_keys: str = option("label", "TFDS features to condition on, comma-separated (default: label)",
                             group="labels")
    attributes: str | None = option(None, "condition on these attributes only, comma-separated (default: all)",
                                    group="labels")
    embed_dim: int | None = option(None, "embedding size per attribute (default: noise-dim / 10)", group="labels", positive=True)
    no_mismatch: bool = option(False, "do not show D real images with wrong labels as fakes (same as "
                                      "--mismatch off)", group="labels")
    g_conditioning: str | None = option(None, "how G reads labels: concat (embeddings beside the noise) or cbn "
                                              "(conditional batch norm in every layer; cdcgan only) (default: "
                                              "concat)", group="labels", choices=G_CONDITIONING)
    d_conditioning: str | None = option(None, "how D reads labels: concat (label maps after its first layer), "
                                              "projection (inner product with its last features) or acgan (a "
                                              "classifier head per attribute) (default: cdcgan projection, cgan "
                                              "concat)", group="labels", choices=D_CONDITIONING)
    mismatch: str | None = option(None, "show D real images with one wrong label as fakes (default: on for "
                                        "concat and projection; acgan's D does not read labels)",
                                  group="labels", choices=("on", "off"))
    mode_seeking: float | None = option(None, "mode-seeking weight (MSGAN, Mao et al. 2019): fakes drawn in pairs "
                                              "for the same labels, G paying while a pair is closer than two real "
                                              "images of one label set are, so it cannot ignore its noise "
                                              "(conditional models; 0: off; default: cdcgan 2, others 0)",
                                        group="labels", metavar="WEIGHT")
    ac_weight: float = option(1.0, "weight of the AC-GAN classification loss (--d-conditioning acgan)",
                              group="labels")
    label_accuracy_every: int = option(0, "steps between label-accuracy evaluations of a conditional model, "
                                          "logged to TensorBoard (0: off; a judge is trained on the real images "
                                          "first)", group="labels", changes_run=False)
    label_accuracy_samples: int = option(512, "generated images per label-accuracy evaluation", group="labels",
                                         changes_run=False, positive=True)
    # InfoGAN
    info_categorical: str | None = option(None, "sizes of the unsupervised categorical codes, comma-separated "
                                                "(default 10; none with --info-supervised)", group="infogan")
    info_continuous: int = option(2, "number of continuous codes", group="infogan")
    info_weight: float = option(1.0, "lambda of the mutual information loss", group="infogan")
    info_continuous_weight: float = option(0.1, "weight of the continuous codes' term inside it", group="infogan")
    info_continuous_loss: str = option("mse", "mse: a Gaussian of fixed variance, as the paper's code (default); "
                                              "gaussian: Q also predicts the variance", group="infogan",
                                       choices=CONTINUOUS_LOSSES)
    info_supervised: str | None = option(None, "a label attribute that becomes a categorical code Q also "
                                               "learns from real labels", group="infogan", metavar="ATTRIBUTE")
    # BEGAN
    began_gamma: float = option(0.5, "diversity ratio gamma", group="began")
    began_lambda_k: float = option(1e-3, "learning rate of k_t", group="began")
    began_hidden: int = option(64, "autoencoder bottleneck size", group="began", positive=True)

    def resolved(self):
        """Every None that has a model default filled: first the model's, then its loss's."""
        if self.model not in MODELS:
            raise InvalidValue(f"unknown model {self.model!r}; choose one of {', '.join(MODELS)}")
        defaults = {**GAN_BASE_DEFAULTS, **GAN_MODEL_DEFAULTS[self.model]}
        if self.model == "dcgan" and self.dataset in (None, "shapes") and not self.data_dir:
            defaults.update(SHAPES_DCGAN_DEFAULTS)
            if self.lr is not None:
                del defaults["g_lr"]
        defaults.update(GAN_LOSS_DEFAULTS.get(self.loss or defaults["loss"], {}))
        defaults.setdefault("d_norm", self.norm)
        defaults["info_categorical"] = "" if self.info_supervised else "10"
        if self.model == "infogan" and self.lr is None:
            defaults["g_lr"] = INFOGAN_G_LR
        if self.model in CONDITIONAL:
            defaults.update(CONDITIONING_DEFAULTS[self.model])
            acgan = (self.d_conditioning or defaults["d_conditioning"]) == "acgan"
            defaults["mismatch"] = "off" if self.no_mismatch or acgan else "on"
        if self.ada and not defaults["diffaug"]:
            defaults["diffaug"] = ADA_DEFAULT_POLICY
        return self._fill(defaults).check()

    def check(self):
        self.check_common()
        self.check_sizes_and_ada()
        if not 0.0 <= self.label_smoothing < 1.0:
            raise InvalidValue(f"--label-smoothing must be in [0, 1), got {self.label_smoothing}")
        loss = self.loss or ("bce" if self.model == "began" else None)
        if loss in ("hinge", "wgan", "wgan-gp") or self.model == "began":
            given = [flag for flag, on in (("--label-smoothing", self.label_smoothing), ("--noisy-labels", self.noisy_labels)) if on]
            if given:
                what = "began's autoencoder D" if self.model == "began" else f"--loss {loss}"
                raise InvalidValue(f"{' and '.join(given)} soften the lsgan and bce losses' real/fake targets; {what} has "
                                "no targets to soften: drop the flag")
        if loss is not None and loss != "lsgan" and tuple(self.lsgan_targets) != LSGAN_TARGETS:
            raise InvalidValue(f"--lsgan-targets set the least squares loss's targets, not --loss {loss}'s: drop the flag "
                            "or use --loss lsgan")
        for name in ("gp_weight", "gp_center", "r1", "info_weight", "info_continuous_weight", "began_lambda_k"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value >= 0):
                raise InvalidValue(f"--{name.replace('_', '-')} must be 0 or more, got {value}")
        if not (math.isfinite(self.clip_value) and self.clip_value > 0):
            raise InvalidValue(f"--clip-value must be a positive number, got {self.clip_value}")
        if not 0.0 < self.began_gamma <= 1.0:
            raise InvalidValue(f"--began-gamma must be in (0, 1], got {self.began_gamma}")
        if self.info_continuous < 0:
            raise InvalidValue(f"--info-continuous must be 0 or more, got {self.info_continuous}")
        if self.ema is not None and not 0.0 <= self.ema < 1.0:
            raise InvalidValue(f"--ema must be in [0, 1) (0: off), got {self.ema}")
        if self.lr_decay_start and self.lr_schedule != "linear":
            raise InvalidValue(f"--lr-decay-start holds the rate before a linear decay: add --lr-schedule linear "
                            f"(got {self.lr_schedule})")
        if self.lr_decay_start < 0 or (self.steps is not None and self.lr_decay_start >= self.steps):
            raise InvalidValue(f"--lr-decay-start must be in [0, --steps) = [0, {self.steps}), got {self.lr_decay_start}")
        if self.model in CONDITIONAL:
            self.check_conditioning()
        if self.label_accuracy_every < 0:
            raise InvalidValue(f"--label-accuracy-every must be 0 or more, got {self.label_accuracy_every}")
        if self.label_accuracy_every and self.model not in CONDITIONAL:
            raise InvalidValue(f"--label-accuracy-every measures conditional models (cgan, cdcgan), not {self.model}")
        if self.minibatch_std and self.model not in MINIBATCH_STD_MODELS:
            raise InvalidValue(f"--minibatch-std is built into the DCGAN and BEGAN discriminators "
                            f"({', '.join(MINIBATCH_STD_MODELS)}), not {self.model}'s")
        if self.g_full_res_convs < 0:
            raise InvalidValue(f"--g-full-res-convs must be 0 or more, got {self.g_full_res_convs}")
        if self.g_full_res_convs and self.model not in DCGAN_G_MODELS:
            raise InvalidValue(f"--g-full-res-convs is an option of the DCGAN generator ({', '.join(DCGAN_G_MODELS)}), "
                            f"not {self.model}'s")
        if self.g_full_res_convs and self.image_size >= 256:
            raise InvalidValue("--g-full-res-convs: the 256 px generator's blocks already have two convs each; "
                            "drop the flag or use --image-size 128 or less")
        if self.r1 and (self.model == "began" or self.loss in ("wgan", "wgan-gp")):
            what = "began's autoencoder D" if self.model == "began" else f"--loss {self.loss}"
            raise InvalidValue(f"--r1 penalizes the lsgan, bce and hinge losses' D, not {what} (WGAN-GP has its own "
                            f"--gp-weight)")
        if self.interpolate and self.model in (*CONDITIONAL, "infogan"):
            raise InvalidValue(f"--interpolate walks the noise of unconditional models, not {self.model}")
        if self.mode_seeking is not None and not (math.isfinite(self.mode_seeking) and self.mode_seeking >= 0):
            raise InvalidValue(f"--mode-seeking must be 0 (off) or more, got {self.mode_seeking}")
        if self.mode_seeking and self.model not in CONDITIONAL:
            raise InvalidValue(f"--mode-seeking pairs fakes drawn for the same labels: a conditional model's option "
                               f"(cgan, cdcgan), not {self.model}'s")
        return self

    def check_sizes_and_ada(self):
        if self.model == "fastgan":
            if self.image_size is not None and self.image_size not in FASTGAN_SIZES:
                raise InvalidValue(f"fastgan's --image-size is one of {', '.join(map(str, FASTGAN_SIZES))}, got "
                                   f"{self.image_size}")
            if self.loss in ("wgan", "wgan-gp") or (self.n_critic or 1) != 1 or self.r1:
                raise InvalidValue("fastgan trains with the hinge, bce or lsgan loss, one D update per G update and no "
                                   "--r1: drop --loss wgan/wgan-gp, --n-critic and --r1")
        elif self.image_size == 512:
            raise InvalidValue(f"--image-size 512 is for --model fastgan; {self.model}'s networks go up to 256")
        if self.ada:
            if self.model == "began":
                raise InvalidValue("--ada steers augmentation by the sign of D's logits; began's autoencoder D has none")
            if not self.diffaug_policy:
                raise InvalidValue(f"--ada adapts how often the --diffaug policies apply: give some (e.g. --diffaug "
                                   f"{ADA_DEFAULT_POLICY}) or drop --diffaug none")
            if not -1.0 < self.ada_target < 1.0:
                raise InvalidValue(f"--ada-target is a value of E[sign(D(real))], in (-1, 1); got {self.ada_target}")
            if not (math.isfinite(self.ada_kimg) and self.ada_kimg > 0):
                raise InvalidValue(f"--ada-kimg must be a positive number, got {self.ada_kimg}")

    def check_conditioning(self):
        if self.model == "cgan" and self.g_conditioning == "cbn":
            raise InvalidValue("--g-conditioning cbn needs the DCGAN generator (--model cdcgan); cgan's MLP conditions "
                            "by concat")
        if self.mismatch == "on" and self.no_mismatch:
            raise InvalidValue("--mismatch on and --no-mismatch contradict each other: give one")
        if self.mismatch == "on" and self.d_conditioning == "acgan":
            raise InvalidValue("--mismatch on needs a discriminator that reads labels (concat, projection): acgan's "
                            "classifies the image instead")
        if not (math.isfinite(self.ac_weight) and self.ac_weight >= 0):
            raise InvalidValue(f"--ac-weight must be 0 or more, got {self.ac_weight}")

    @property
    def uses_mismatch(self):
        """Whether D sees mismatched negatives: --mismatch, else on unless --no-mismatch or acgan."""
        if self.mismatch is not None:
            return self.mismatch == "on"
        return not self.no_mismatch and self.d_conditioning != "acgan"

    @property
    def conditional(self):
        return self.model in CONDITIONAL

    @property
    def needs_labels(self):
        return self.conditional or (self.model == "infogan" and bool(self.info_supervised))

    def default_name(self, dataset_name):
        return f"{self.model}_{dataset_name}_{self.image_size}"


# The defaults `models_help` lists for each model, where they differ from the DCGAN's.
SHOWN_DEFAULTS = ("loss", "optimizer", "lr", "g_lr", "beta1", "beta2", "n_critic", "image_size", "noise_dim", "latent",
                  "init", "d_norm", "batch_size", "width", "ema", "g_full_res_convs", "d_conditioning", "mode_seeking")


def models_help():
    """A line per model of the GAN family: what it is and how its defaults differ from the
    DCGAN's, read from the tables above, so the help cannot drift from them."""
    base = GANConfig(model="dcgan", data_dir="images").resolved()

    def listing(config, against=None):
        shown = [(flags_of(f)[0], getattr(config, f.name)) for f in GANConfig.fields() if f.name in SHOWN_DEFAULTS
                 and getattr(config, f.name) is not None
                 and (against is None or getattr(config, f.name) != getattr(against, f.name))
                 and not (config.model == "began" and f.name == "loss")]  # BEGAN's D has its own loss
        return ", ".join(f"{flag} {value:g}" if isinstance(value, float) else f"{flag} {value}" for flag, value in shown)

    lines = [f"  {model:<8} {text}: {listing(GANConfig(model=model, data_dir='images').resolved(), base) or 'as dcgan'}"
             for model, text in MODEL_DESCRIPTIONS.items() if model != "dcgan"]
    return "\n".join([
        "models (flags you give override these defaults):",
        f"  dcgan    {MODEL_DESCRIPTIONS['dcgan']}: {listing(base)}",
        *lines,
        f"  on the built-in shapes (no --dataset or --data-dir) the dcgan takes instead: "
        f"{listing(GANConfig(model='dcgan').resolved(), base)}"])


@dataclass
class CycleGANConfig(Config):
    """Every option of a CycleGAN run (`train_cyclegan.py`); None means the image size's default."""

    command = "kerasgan train-cyclegan"

    # data
    dataset: str | None = option(None, "shapes (built in, default), grumpifycat (course layout under "
                                       "--data-dir), or a TFDS cycle_gan name such as apple2orange", group="data")
    data_dir: str | None = option(None, "the data root for grumpifycat; the TFDS data_dir",
                                  flags=("--data-dir", "--data_dir"), group="data")
    image_size: int = option(64, "64 (the course's settings) or 256 (the paper's)",
                             flags=("--image-size", "--image_size"), group="data", choices=(64, PAPER_SIZE))
    data_preprocess: str | None = option(None, "basic: resize only; deluxe: 1.1x bicubic resize (286 at 256), "
                                               "random crop, random flip (default basic at 64, deluxe at 256)",
                                         flags=("--data-preprocess", "--data_preprocess"), group="data",
                                         choices=PREPROCESSING)
    num_images: int | None = option(None, "images to generate (shapes) or to read at most per domain", group="data", positive=True)
    cache: str = option("auto", CACHE_HELP, group="data", choices=CACHES,
                        changes_run=False)
    diffaug: str = option("", "DiffAugment policies applied to real and fake images (bare flag: "
                              "color,translation,cutout)", flags=("--diffaug", "--use_diffaug"), group="data",
                          nargs="?", const="color,translation,cutout")
    # domains
    x_dir: str | None = option(None, "folder of domain X images (with --y-dir)", group="domains")
    y_dir: str | None = option(None, "folder of domain Y images", group="domains")
    x_rel: str | None = option(None, "domain X folder under --data-dir, course style (e.g. cat/grumpifyAprocessed)",
                               flags=("--X",), group="domains")
    y_rel: str | None = option(None, "domain Y folder under --data-dir", flags=("--Y",), group="domains")
    num_samples: int | None = option(None, "fixed test images per domain in sample grids (default 8 at 64, 4 at "
                                           "256)", group="domains", changes_run=False, positive=True)
    # run
    name: str | None = option(None, "run name (default: derived from the data)", changes_run=False)
    runs_dir: str = option("runs", changes_run=False)
    exports_dir: str = option("exports", changes_run=False)
    seed: int = option(0)
    steps: int | None = option(None, "training steps; the LR decays over the last half", changes_run=False, positive=True)
    epochs: int | None = option(None, "epochs at constant LR (default: 100)", flags=("--epochs", "--num_epochs"),
                                changes_run=False, positive=True)
    decay_epochs: int | None = option(None, "epochs of linear LR decay to 0 after --epochs (default: as many as "
                                            "--epochs)", flags=("--decay-epochs", "--n_epochs_decay"),
                                      changes_run=False)
    batch_size: int | None = option(None, "default 16 at 64, 1 at 256", flags=("--batch-size", "--batch_size"), positive=True)
    sample_every: int = option(200, flags=("--sample-every", "--sample_every"), changes_run=False, positive=True)
    # CycleGAN steps are slow on a CPU (seconds each): checkpoints come more often than DCGAN's.
    checkpoint_every: int = option(100, flags=("--checkpoint-every", "--checkpoint_every"), changes_run=False, positive=True)
    log_every: int = option(10, "TensorBoard scalar interval", changes_run=False, positive=True)
    xla: str = option("auto", "compile the train step with XLA; auto: on GPUs only", choices=XLA_MODES,
                      changes_run=False)
    no_export: bool = option(False, "skip the SavedModel export at the end", changes_run=False)
    verbose: int = option(1, VERBOSE_HELP, choices=VERBOSITY, changes_run=False)
    max_loss: float = option(1e6, "stop the run as a diverged one (exit status 3, nothing exported) when a loss stays "
                                  "above this magnitude for 10 steps in a row; 0: never", changes_run=False)
    # optimization
    lr: float = option(2e-4, "learning rate of all four nets", group="optimization")
    g_lr: float | None = option(None, "generators' learning rate (default: --lr)", group="optimization")
    d_lr: float | None = option(None, "discriminators' learning rate (default: --lr)", group="optimization")
    beta1: float = option(0.5, group="optimization")
    beta2: float = option(0.999, group="optimization")
    ema: float = option(0.0, "exponential moving average of both generators' weights with this decay, e.g. "
                             "0.999, used for sample grids, translate and the export (0: off)",
                        group="optimization", metavar="DECAY")
    # speed and scale
    precision: str = option("float32", "mixed_float16 (GPUs, with loss scaling) or mixed_bfloat16",
                            group="speed and scale", choices=PRECISIONS)
    strategy: str = option("none", "mirrored: all local GPUs; multiworker: several machines configured by "
                                   "TF_CONFIG", group="speed and scale", choices=STRATEGIES, changes_run=False)
    # model
    loss: str = option("lsgan", "adversarial loss", group="model", choices=CYCLE_ADVERSARIAL_LOSSES)
    lambda_cycle: float = option(10.0, "weight of the cycle-consistency loss",
                                 flags=("--lambda-cycle", "--lambda_cycle"), group="model")
    cycle_loss: str = option("l1", "l1, or ssim: 0.84 * (1 - SSIM) + 0.16 * L1 (Zhao et al.)",
                             flags=("--cycle-loss", "--cycle_loss"), group="model", choices=CYCLE_LOSSES)
    use_identity_loss: bool = option(False, "add the identity loss with --lambda-identity 0.5",
                                     flags=("--use-identity-loss", "--use_identity_loss"), group="model")
    lambda_identity: float | None = option(None, "identity-loss weight as a fraction of --lambda-cycle (default "
                                                 "0, or 0.5 with --use_identity_loss)",
                                           flags=("--lambda-identity", "--lambda_identity"), group="model")
    disc: str = option("patch", "PatchGAN (46x46 patches at 64, 70x70 at 256) or the DCGAN discriminator",
                       group="model", choices=DISCRIMINATORS)
    g_blocks: int | None = option(None, "residual blocks in each generator (default 6 at 64, 9 at 256)",
                                  flags=("--g-blocks", "--g_blocks"), group="model", positive=True)
    g_filters: int = option(64, "generator width (first conv's channels)", flags=("--g-filters", "--g_conv_dim"),
                            group="model", positive=True)
    d_filters: int = option(64, "discriminator width (first conv's channels)",
                            flags=("--d-filters", "--d_conv_dim"), group="model", positive=True)
    norm: str = option("instance", group="model", choices=NORMS)
    spectral_norm: bool = option(False, "spectral normalization on the discriminators' convs",
                                 flags=("--spectral-norm", "--spectral_norm"), group="model")
    init: str = option("normal", group="model", choices=INITS)
    pool_size: int = option(50, "history of fakes per domain shown to D (0: off)", group="model")

    @property
    def paper(self):
        return self.image_size >= PAPER_SIZE

    @property
    def load_size(self):
        """The deluxe resize before the random crop: the paper's 286 at 256, else 1.1x (None)."""
        return PAPER_LOAD_SIZE if self.paper else None

    def resolved(self):
        defaults = dict(CYCLEGAN_SIZE_DEFAULTS["paper" if self.paper else "course"])
        defaults["lambda_identity"] = 0.5 if self.use_identity_loss else 0.0
        return self._fill(defaults).check()

    def check(self):
        self.check_common()
        if not 0.0 <= self.ema < 1.0:
            raise InvalidValue(f"--ema must be in [0, 1) (0: off), got {self.ema}")
        for flag, value in (("--pool-size", self.pool_size), ("--decay-epochs", self.decay_epochs)):
            if value is not None and value < 0:
                raise InvalidValue(f"{flag} must be 0 or more, got {value}")
        for name in ("lambda_cycle", "lambda_identity"):
            value = getattr(self, name)
            if value is not None and not (math.isfinite(value) and value >= 0):
                raise InvalidValue(f"--{name.replace('_', '-')} must be 0 or more, got {value}")
        return self

    def default_name(self, dataset_name):
        return f"cyclegan_{dataset_name}_{self.image_size}"




DIFFUSION_PRESET_LR = {"cpu": 1e-3, "gpu": 2e-4}


@dataclass
class DiffusionConfig(Config):
    """Every option of a denoising diffusion run (`train_diffusion.py`); None means the preset's default."""

    command = "kerasgan train-diffusion"
    # The shared data loader and checks read these; a diffusion run is unconditional and trains
    # on the data as it is (DiffAugment would teach it the augmented images).
    model = "diffusion"
    diffaug = ""
    g_lr = d_lr = None
    labels_csv = None
    label_keys = "label"

    # data
    dataset: str | None = option(None, "shapes (built in, default), grumpifycat (course layout under --data-dir), "
                                       "or a TensorFlow Datasets name", group="data")
    data_dir: str | None = option(None, "a folder of images (streamed from disk) or a zip from `kerasgan prepare`; "
                                        "the data root for grumpifycat; the TFDS data_dir",
                                  flags=("--data-dir", "--data_dir"), group="data")
    image_size: int = option(64, "16, 32, 64 or 128", flags=("--image-size", "--image_size"), group="data",
                             choices=(16, 32, 64, 128))
    data_preprocess: str = option("basic", "basic: resize only; deluxe: 1.1x bicubic resize, random crop, "
                                           "random flip", flags=("--data-preprocess", "--data_preprocess"),
                                  group="data", choices=PREPROCESSING)
    num_images: int | None = option(None, "images to generate (shapes) or to read at most (folders, TFDS)",
                                    group="data", positive=True)
    cache: str = option("auto", CACHE_HELP, group="data", choices=CACHES,
                        changes_run=False)
    # run
    name: str | None = option(None, "run name (default: diffusion_<data>_<size>)", changes_run=False)
    runs_dir: str = option("runs", changes_run=False)
    exports_dir: str = option("exports", changes_run=False)
    seed: int = option(0)
    steps: int | None = option(None, "training steps", changes_run=False, positive=True)
    epochs: int | None = option(None, "passes over the data (default: 100)", flags=("--epochs", "--num_epochs"),
                                changes_run=False, positive=True)
    batch_size: int = option(32, flags=("--batch-size", "--batch_size"), positive=True)
    sample_every: int = option(500, "steps between sample grids (each runs the DDIM sampler)",
                               flags=("--sample-every", "--sample_every"), changes_run=False, positive=True)
    checkpoint_every: int = option(250, flags=("--checkpoint-every", "--checkpoint_every"), changes_run=False,
                                   positive=True)
    log_every: int = option(10, "TensorBoard scalar interval", changes_run=False, positive=True)
    xla: str = option("auto", "compile the train step with XLA; auto: on GPUs only", choices=XLA_MODES,
                      changes_run=False)
    no_export: bool = option(False, "skip the SavedModel export at the end", changes_run=False)
    verbose: int = option(1, VERBOSE_HELP, choices=VERBOSITY, changes_run=False)
    max_loss: float = option(1e6, "stop the run as a diverged one (exit status 3, nothing exported) when a loss stays "
                                  "above this magnitude for 10 steps in a row; 0: never", changes_run=False)
    # optimization
    lr: float | None = option(None, "Adam learning rate (default: the preset's, cpu 1e-3, gpu 2e-4)",
                              group="optimization")
    beta1: float = option(0.9, "Adam beta1", group="optimization")
    beta2: float = option(0.999, "Adam beta2", group="optimization")
    lr_schedule: str = option("constant", "decay to 0 over the run", group="optimization", choices=SCHEDULES)
    ema: float = option(0.999, "decay of the exponential moving average of the weights that sampling uses "
                               "(warmed up as (1 + n) / (10 + n) over the first steps)", group="optimization")
    # speed and scale
    precision: str = option("float32", "mixed_float16 (GPUs, with loss scaling) or mixed_bfloat16",
                            group="speed and scale", choices=PRECISIONS)
    strategy: str = option("none", "mirrored: all local GPUs; multiworker: several machines configured by "
                                   "TF_CONFIG", group="speed and scale", choices=STRATEGIES, changes_run=False)
    # FID / KID
    fid_every: int = option(0, "steps between FID/KID evaluations, also run at the end (0: off)",
                            group="FID / KID", changes_run=False)
    fid_samples: int | None = option(None, "generated images per evaluation (default: as many as the real "
                                           "set, at least 1000, at most 10000)", group="FID / KID",
                                     changes_run=False, positive=True)
    fid_steps: int = option(10, "DDIM steps per generated image in FID evaluations", group="FID / KID",
                            changes_run=False, positive=True)
    fid_weights: str = option("imagenet", "InceptionV3 no-top weights: imagenet, a local .h5 file, or random "
                                          "(offline smoke tests only)", group="FID / KID", changes_run=False)
    fid_batch_size: int = option(50, "images per Inception forward pass", group="FID / KID", changes_run=False,
                                 positive=True)
    # model
    preset: str = option("cpu", "U-Net size: cpu (width 32, one block per level, attention at 8x8) or gpu "
                                "(width 64, two blocks per level, attention at 16x16 and 8x8)", group="model",
                         choices=("cpu", "gpu"))
    width: int | None = option(None, "base channel count of the U-Net (default: the preset's; a multiple of 8)",
                               group="model", positive=True)
    timesteps: int = option(1000, "diffusion steps T of training", group="model", positive=True)
    schedule: str = option("cosine", "noise schedule: linear (DDPM) or cosine (improved DDPM)", group="model",
                           choices=NOISE_SCHEDULES)
    prediction: str = option("v", "what the network predicts: the noise (eps) or v", group="model",
                             choices=PREDICTIONS)
    sample_steps: int = option(50, "DDIM steps for sample grids, sample() and the export's default",
                               group="model", changes_run=False, positive=True)

    def resolved(self):
        return self.check()

    def learning_rate(self):
        """--lr, or the preset's: a small U-Net trains fastest at 1e-3 (docs/diffusion.md), DDPM's at 2e-4."""
        return self.lr if self.lr is not None else DIFFUSION_PRESET_LR[self.preset]

    def check(self):
        self.check_common()
        if self.width is not None and self.width % 8:
            raise InvalidValue(f"--width must be a multiple of 8 (the U-Net's group norm), got {self.width}")
        if not 0.0 <= self.ema < 1.0:
            raise InvalidValue(f"--ema must be in [0, 1), got {self.ema}")
        if self.timesteps < 2:
            raise InvalidValue(f"--timesteps must be at least 2, got {self.timesteps}")
        for flag, value in (("--sample-steps", self.sample_steps), ("--fid-steps", self.fid_steps)):
            if value > self.timesteps:
                raise InvalidValue(f"{flag} {value} is more than the {self.timesteps} --timesteps trained")
        return self

    def default_name(self, dataset_name):
        return f"diffusion_{dataset_name}_{self.image_size}"


def config_class(values):
    """The config class a run's config.json was written from."""
    if "timesteps" in values:
        return DiffusionConfig
    return CycleGANConfig if "lambda_cycle" in values else GANConfig
