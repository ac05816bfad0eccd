"""Typed configuration: the schema of `params.yaml`, and the one function that loads it.

`conf/` (Hydra) is the source of truth. `dvc exp run` composes it into `params.yaml`; `dvc repro`
uses `params.yaml` as committed. Stage entry points therefore do not use `@hydra.main`: they call
`load_params()`, which validates `params.yaml` against the dataclasses below (unknown keys and
wrong types fail with the key's dotted name) and returns typed objects. Library functions take
these section objects (or plain values), never the whole config.

The same dataclasses are registered in Hydra's ConfigStore (`register_configs()`), so Hydra
applications and the tests can compose `conf/` against the schema.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

from omegaconf import MISSING

from classlens.data.conform import INTERPOLATIONS, RESIZE_MODES
from classlens.errors import ConfigError

DATA_SOURCES = ("digits", "folder", "csv", "idx", "mnist", "fashion_mnist", "cifar10", "cifar100")
DATA_RESIZE_MODES = RESIZE_MODES  # what classlens.data.conform (Pillow) does
DATA_INTERPOLATIONS = INTERPOLATIONS
# keras.applications backbones (classlens.models.backbones holds their specs; a test keeps the two
# in sync) -- kept here as names so that loading params never imports Keras.
BACKBONES = ("mobilenet", "mobilenet_v2", "efficientnet_b0", "resnet50", "vgg16", "inception_v3")
MODEL_ARCHITECTURES = ("cnn", *BACKBONES, "file")
CNN_HEADS = ("gap", "flatten")
CNN_PADDINGS = ("same", "valid")
_BACKBONE_KEYS = ("architecture", "weights", "input_size", "head_dropout", "augment", "fine_tune")
# The keys each architecture requires (and the only ones it accepts) under `model`.
MODEL_KEYS: dict[str, tuple[str, ...]] = {
    "cnn": ("architecture", "filters", "convs_per_block", "kernel_size", "block_dropout",
            "padding", "batch_norm", "head", "dense_units", "head_dropout", "augment"),
    **{name: _BACKBONE_KEYS for name in BACKBONES},
    "mobilenet": (*_BACKBONE_KEYS, "alpha"),
    "mobilenet_v2": (*_BACKBONE_KEYS, "alpha"),
    "file": ("architecture", "path", "input_scaling", "output"),
}
# file models: what range of pixel values the model was trained on (prepared images are 0..255)
INPUT_SCALINGS = ("raw", "unit", "symmetric")  # 0..255, 0..1, -1..1
MODEL_OUTPUTS = ("auto", "softmax", "logits")
SALIENCY_REDUCTIONS = ("max", "mean")
# Attribution methods (kept in step with the registry in classlens.explain; a test checks) and
# the reference images they may start from (classlens.explain.baselines).
EXPLAIN_METHODS = ("gradients", "smoothgrad", "integrated_gradients", "gradcam",
                   "gradcam_plus_plus", "occlusion")
EXPLAIN_BASELINES = ("black", "mean", "blur")
CONFUSION_ORDERS = ("given", "recall", "clustered")
LABEL_SUSPECT_SCORES = ("normalized_margin", "self_confidence")


# Field types only: the values live in conf/ (the single source of truth), so every field is
# MISSING here and a key absent from params.yaml fails at load time with its dotted name.


@dataclass
class DataConfig:
    """Where images come from, how they are decoded and conformed, and how they are split.
    `conf/data/common/base.yaml` documents every field; one file per source sets what differs."""

    source: str = MISSING
    root: str = MISSING  # folder / idx: the data folder; csv: paths must stay inside it
    manifest: str = MISSING  # csv: the manifest file (path,label[,split])
    class_names: list[str] = MISSING  # idx: names of labels 0..; csv: the class list; [] = found
    val_fraction: float = MISSING
    test_fraction: float = MISSING
    max_per_class: int = MISSING  # 0 = every image; N = a seeded sample of N per class and split
    image_size: list[int] = MISSING  # [height, width]; [] = keep the source size
    channels: int = MISSING  # 1 (grayscale) or 3 (RGB); 0 = keep (array sources only)
    resize: str = MISSING  # stretch | crop | pad (aspect-preserving centre crop or black pad)
    interpolation: str = MISSING
    max_image_pixels: int = MISSING  # larger images are skipped (decompression-bomb guard)
    max_skipped_fraction: float = MISSING  # prepare fails when more of the files are skipped
    workers: int = MISSING  # decoding threads; 0 = one per CPU core
    memory_cache_mb: int = MISSING  # train: splits up to this size are read into memory


@dataclass
class AugmentConfig:
    """Augmentation layers, active only while training (0 / false disables a layer)."""

    translate: float = MISSING
    rotate: float = MISSING
    zoom: float = MISSING
    flip_horizontal: bool = MISSING


@dataclass
class FineTuneConfig:
    """Phase 2 of a transfer model: unfreeze the top of the backbone and train on, slower."""

    epochs: int = MISSING  # 0: feature extraction only (no phase 2)
    learning_rate: float = MISSING
    # how much of the backbone to unfreeze: N (the top N layers), a layer name (that layer and
    # every layer above it), or "all". Batch-norm layers stay frozen in every case.
    unfreeze: Any = MISSING


@dataclass
class ModelConfig:
    """One flat section for every architecture; each architecture uses (and requires) only its
    own keys, listed in `MODEL_KEYS`, so `conf/model/cnn.yaml` never mentions backbone keys.

    cnn: blocks of (conv-BN-ReLU) x convs_per_block, pool, dropout; GAP, dropout, `logits`,
    softmax. Backbones (`BACKBONES`): a keras.applications network without its top, frozen, then
    GAP, dropout, `logits`, softmax; optionally fine-tuned. file: a trained classifier file.
    """

    architecture: str = MISSING
    # cnn
    filters: Optional[list[int]] = None
    convs_per_block: Optional[int] = None
    kernel_size: Optional[int] = None
    block_dropout: Optional[float] = None
    padding: Optional[str] = None  # CNN_PADDINGS: same keeps each block's map size, valid trims
    batch_norm: Optional[bool] = None  # BN after every conv (else the conv has a bias)
    head: Optional[str] = None  # CNN_HEADS: global average pooling, or flatten the last map
    dense_units: Optional[int] = None  # a hidden ReLU dense layer before `logits`; 0 = none
    # cnn and backbones
    head_dropout: Optional[float] = None
    augment: Optional[AugmentConfig] = None
    # backbones
    weights: Optional[str] = None  # "imagenet", null (random init) or a weights file path
    alpha: Optional[float] = None  # width multiplier (mobilenet, mobilenet_v2)
    input_size: Optional[int] = None  # square side fed to the backbone; null: its minimum
    fine_tune: Optional[FineTuneConfig] = None
    # file (bring your own trained model)
    path: Optional[str] = None
    input_scaling: Optional[str] = None  # what the file model expects: INPUT_SCALINGS
    output: Optional[str] = None  # what it outputs: MODEL_OUTPUTS


@dataclass
class TrainConfig:
    epochs: int = MISSING
    batch_size: int = MISSING
    learning_rate: float = MISSING
    early_stopping_patience: int = MISSING
    reduce_lr_patience: int = MISSING
    reduce_lr_factor: float = MISSING
    min_learning_rate: float = MISSING
    deterministic: bool = MISSING
    distribution: str = MISSING
    mixed_precision: bool = MISSING  # mixed_float16 when a GPU is present (ignored on CPU)
    # plateau: constant rate, cut by reduce_lr_* when val_loss stalls; cosine: linear warm-up over
    # warmup_fraction of the steps, then cosine decay to min_learning_rate by the last epoch
    schedule: str = "plateau"
    warmup_fraction: float = 0.0
    # XLA: None = Keras' "auto" (on where a GPU is, off on CPU, where it measured 3.6x slower)
    jit_compile: Optional[bool] = None


@dataclass
class PredictConfig:
    top_k: int = MISSING
    batch_size: int = MISSING


@dataclass
class EvaluateConfig:
    """Metrics of the test predictions, their bootstrap intervals and calibration."""

    top_k: int = MISSING
    bootstrap_resamples: int = MISSING
    bootstrap_seed: int = MISSING
    ci_level: float = MISSING
    calibration_bins: int = MISSING
    confusion_order: str = MISSING
    curve_points: int = MISSING


@dataclass
class AnalyzeConfig:
    """Error analysis: galleries, confidence lists, weak classes, label-issue suspects."""

    gallery_size: int = MISSING
    top_pairs: int = MISSING
    pair_gallery_size: int = MISSING
    class_gallery_size: int = MISSING
    max_class_galleries: int = MISSING
    low_confidence: float = MISSING
    confident_wrong: float = MISSING
    weak_f1: float = MISSING
    suspect_score: str = MISSING


@dataclass
class GradientsConfig:
    reduce: str = MISSING


@dataclass
class SmoothGradConfig:
    samples: int = MISSING
    noise: float = MISSING
    reduce: str = MISSING


@dataclass
class IntegratedGradientsConfig:
    steps: int = MISSING
    baseline: str = MISSING


@dataclass
class GradCAMConfig:
    layer: str = MISSING


@dataclass
class OcclusionConfig:
    patch: int = MISSING
    stride: int = MISSING
    baseline: str = MISSING


@dataclass
class ActivationsConfig:
    layers: list[str] = MISSING
    images: int = MISSING
    channels: int = MISSING


@dataclass
class TrustConfig:
    images: int = MISSING
    steps: int = MISSING
    baseline: str = MISSING
    random_orders: int = MISSING
    min_gain: float = MISSING
    randomization_checkpoints: int = MISSING
    max_spearman: float = MISSING


@dataclass
class ExplainConfig:
    """Which test images are explained, by which methods with which options, and the trust
    checks (README "Explanations")."""

    n_misclassified: int = MISSING
    n_correct: int = MISSING
    n_per_class: int = MISSING
    methods: list[str] = MISSING
    batch_size: int = MISSING
    gradients: GradientsConfig = MISSING
    smoothgrad: SmoothGradConfig = MISSING
    integrated_gradients: IntegratedGradientsConfig = MISSING
    gradcam: GradCAMConfig = MISSING
    occlusion: OcclusionConfig = MISSING
    activations: ActivationsConfig = MISSING
    trust: TrustConfig = MISSING


@dataclass
class TrackingConfig:
    uri: str = MISSING
    experiment: str = MISSING


@dataclass
class GateRuleConfig:
    """One gate rule (see classlens.evaluation.gate.Rule); unset limits are null."""

    metric: str = MISSING
    direction: Optional[str] = None
    floor: Optional[float] = None
    max_drop: Optional[float] = None
    max_relative_drop: Optional[float] = None
    noise: Optional[str] = None


@dataclass
class GateConfig:
    baseline_rev: str = MISSING
    baseline_file: Optional[str] = MISSING
    noise: str = MISSING
    fail_pipeline: bool = MISSING
    rules: list[GateRuleConfig] = MISSING


@dataclass
class Config:
    seed: int = MISSING
    data: DataConfig = MISSING
    model: ModelConfig = MISSING
    train: TrainConfig = MISSING
    predict: PredictConfig = MISSING
    evaluate: EvaluateConfig = MISSING
    analyze: AnalyzeConfig = MISSING
    explain: ExplainConfig = MISSING
    tracking: TrackingConfig = MISSING
    gate: GateConfig = MISSING


# (section, field) -> (accepted values); checked after the type checks OmegaConf does.
_CHOICES: dict[tuple[str, str], tuple[str, ...]] = {
    ("data", "source"): DATA_SOURCES,
    ("data", "resize"): DATA_RESIZE_MODES,
    ("data", "interpolation"): DATA_INTERPOLATIONS,
    ("data", "channels"): (0, 1, 3),
    ("model", "architecture"): MODEL_ARCHITECTURES,
    ("gate", "noise"): ("fail", "warn"),
    ("train", "distribution"): ("none", "mirrored", "multi_worker", "auto"),
    ("train", "schedule"): ("plateau", "cosine"),
    ("evaluate", "confusion_order"): CONFUSION_ORDERS,
    ("analyze", "suspect_score"): LABEL_SUSPECT_SCORES,
}
# (section, field) -> (low, high), both inclusive; numbers outside fail at load time.
_RANGES: dict[tuple[str, str], tuple[float, float]] = {
    ("data", "val_fraction"): (0.01, 0.9),
    ("data", "test_fraction"): (0.01, 0.9),
    ("data", "max_per_class"): (0, 1_000_000_000),
    ("data", "max_image_pixels"): (1, 10**12),
    ("data", "max_skipped_fraction"): (0.0, 1.0),
    ("data", "workers"): (0, 256),
    ("data", "memory_cache_mb"): (0, 10**7),
    ("train", "epochs"): (1, 100_000),
    ("train", "batch_size"): (1, 1_000_000),
    ("train", "warmup_fraction"): (0.0, 0.9),
    ("evaluate", "top_k"): (1, 1_000),
    ("predict", "top_k"): (1, 1_000),
    ("predict", "batch_size"): (1, 1_000_000),
    ("explain", "batch_size"): (1, 1_000_000),
    ("explain", "n_misclassified"): (0, 10_000),
    ("explain", "n_correct"): (0, 10_000),
    ("explain", "n_per_class"): (0, 10_000),
    ("analyze", "gallery_size"): (0, 10_000),
    ("analyze", "top_pairs"): (0, 1_000_000),
    ("evaluate", "bootstrap_resamples"): (0, 1_000_000),
    ("evaluate", "ci_level"): (0.5, 0.999),
    ("evaluate", "calibration_bins"): (1, 1_000),
    ("evaluate", "curve_points"): (2, 1_000_000),
    ("analyze", "pair_gallery_size"): (0, 10_000),
    ("analyze", "class_gallery_size"): (0, 10_000),
    ("analyze", "max_class_galleries"): (0, 100_000),
    ("analyze", "low_confidence"): (0.0, 1.0),
    ("analyze", "confident_wrong"): (0.0, 1.0),
    ("analyze", "weak_f1"): (0.0, 1.0),
}


def register_configs() -> None:
    """Register the schema in Hydra's ConfigStore (`classlens_schema` and one node per group)."""
    from hydra.core.config_store import ConfigStore

    cs = ConfigStore.instance()
    cs.store(name="classlens_schema", node=Config)
    for group, node in (
        ("data", DataConfig),
        ("model", ModelConfig),
        ("train", TrainConfig),
        ("predict", PredictConfig),
        ("evaluate", EvaluateConfig),
        ("analyze", AnalyzeConfig),
        ("explain", ExplainConfig),
        ("tracking", TrackingConfig),
        ("gate", GateConfig),
    ):
        cs.store(group=f"schema/{group}", name="base", node=node)


def validate(raw: dict[str, Any], *, source: str = "params.yaml") -> Config:
    """Check a plain params dict against the schema and return typed `Config`.

    Raises `ConfigError` (one line naming `source` and the dotted key) on an unknown key, a missing
    section, a value of the wrong type, or a value outside what is accepted.
    """
    from omegaconf import OmegaConf
    from omegaconf.errors import OmegaConfBaseException

    if not isinstance(raw, dict):
        raise ConfigError(f"{source}: expected a mapping of sections, got {type(raw).__name__}")
    missing = [name for name in Config.__dataclass_fields__ if name not in raw]
    if missing:
        raise ConfigError(
            f"{source}: missing key(s) {', '.join(missing)}; regenerate it from conf/ with "
            "`classlens params` (or `dvc exp run`)"
        )
    schema = OmegaConf.structured(Config)
    try:
        merged = OmegaConf.merge(schema, raw)
        cfg: Config = OmegaConf.to_object(merged)  # type: ignore[assignment]
    except OmegaConfBaseException as err:
        key = getattr(err, "full_key", None) or "?"
        reason = str(err).splitlines()[0]
        raise ConfigError(f"{source}: key '{key}': {reason}") from None
    _check_values(cfg, source, raw_keys=list(raw["model"]))
    return cfg


def _check_values(cfg: Config, source: str, *, raw_keys: list[str]) -> None:
    for (section, name), accepted in _CHOICES.items():
        value = getattr(getattr(cfg, section), name)
        if value not in accepted:
            raise ConfigError(
                f"{source}: key '{section}.{name}' must be one of {list(accepted)}; "
                f"received {value!r}"
            )
    for (section, name), (low, high) in _RANGES.items():
        value = getattr(getattr(cfg, section), name)
        if not low <= value <= high:
            raise ConfigError(
                f"{source}: key '{section}.{name}' must be in [{low}, {high}]; received {value!r}"
            )
    if cfg.data.val_fraction + cfg.data.test_fraction >= 1.0:
        raise ConfigError(
            f"{source}: keys 'data.val_fraction' + 'data.test_fraction' must be < 1; received "
            f"{cfg.data.val_fraction} + {cfg.data.test_fraction}"
        )
    _check_model(cfg.model, raw_keys, source)
    _check_explain(cfg.explain, source)


# explain's nested options: (dotted key under `explain`) -> accepted values / inclusive range
_EXPLAIN_CHOICES: dict[str, tuple[str, ...]] = {
    "gradients.reduce": SALIENCY_REDUCTIONS,
    "smoothgrad.reduce": SALIENCY_REDUCTIONS,
    "integrated_gradients.baseline": EXPLAIN_BASELINES,
    "occlusion.baseline": EXPLAIN_BASELINES,
    "trust.baseline": EXPLAIN_BASELINES,
}
_EXPLAIN_RANGES: dict[str, tuple[float, float]] = {
    "smoothgrad.samples": (1, 10_000),
    "smoothgrad.noise": (0.0, 1.0),
    "integrated_gradients.steps": (1, 100_000),
    "occlusion.patch": (1, 10_000),
    "occlusion.stride": (1, 10_000),
    "activations.images": (0, 1_000),
    "activations.channels": (1, 10_000),
    "trust.images": (0, 100_000),
    "trust.steps": (1, 100_000),
    "trust.random_orders": (1, 1_000),
    "trust.min_gain": (-1.0, 1.0),
    "trust.randomization_checkpoints": (0, 100_000),
    "trust.max_spearman": (-1.0, 1.0),
}


def _check_explain(explain: ExplainConfig, source: str) -> None:
    def value(dotted: str):
        section, name = dotted.split(".")
        return getattr(getattr(explain, section), name)

    for key, accepted in _EXPLAIN_CHOICES.items():
        if value(key) not in accepted:
            raise ConfigError(f"{source}: key 'explain.{key}' must be one of {list(accepted)}; "
                              f"received {value(key)!r}")
    for key, (low, high) in _EXPLAIN_RANGES.items():
        if not low <= value(key) <= high:
            raise ConfigError(f"{source}: key 'explain.{key}' must be in [{low}, {high}]; "
                              f"received {value(key)!r}")
    unknown = [m for m in explain.methods if m not in EXPLAIN_METHODS]
    if unknown or len(set(explain.methods)) != len(explain.methods):
        raise ConfigError(f"{source}: key 'explain.methods' must list distinct names from "
                          f"{list(EXPLAIN_METHODS)}; received {list(explain.methods)!r}")
    if explain.occlusion.stride > explain.occlusion.patch:
        raise ConfigError(f"{source}: key 'explain.occlusion.stride' must be <= "
                          f"explain.occlusion.patch ({explain.occlusion.patch}) so every pixel "
                          f"is covered; received {explain.occlusion.stride}")


# Keys that may be null: weights (random init) and input_size (the backbone's minimum).
_NULLABLE_MODEL_KEYS = ("weights", "input_size")


def _check_model(model: ModelConfig, raw_keys: list[str], source: str) -> None:
    """The keys of `model.architecture` are all present, no other key is, and values make sense."""
    arch = model.architecture
    accepted = MODEL_KEYS[arch]
    for key in accepted:
        if key not in raw_keys:
            raise ConfigError(
                f"{source}: key 'model.{key}' is missing; model.architecture {arch!r} needs "
                f"{list(accepted)} (see conf/model/)"
            )
        if key not in _NULLABLE_MODEL_KEYS and getattr(model, key) is None:
            raise ConfigError(f"{source}: key 'model.{key}' must not be null for {arch!r}")
    for key in raw_keys:
        if key not in accepted:
            raise ConfigError(
                f"{source}: key 'model.{key}' is not used by model.architecture {arch!r}; it "
                f"takes {list(accepted)}"
            )

    def bad(key: str, expected: str, value: Any) -> ConfigError:
        return ConfigError(f"{source}: key 'model.{key}' must be {expected}; received {value!r}")

    if arch == "cnn":
        if not model.filters or any(f < 1 for f in model.filters):
            raise bad("filters", "a non-empty list of positive integers", model.filters)
        for key in ("convs_per_block", "kernel_size"):
            if getattr(model, key) < 1:
                raise bad(key, "a positive integer", getattr(model, key))
        if not 0 <= model.block_dropout < 1:
            raise bad("block_dropout", "in [0, 1)", model.block_dropout)
        if model.padding not in CNN_PADDINGS:
            raise bad("padding", f"one of {list(CNN_PADDINGS)}", model.padding)
        if model.head not in CNN_HEADS:
            raise bad("head", f"one of {list(CNN_HEADS)}", model.head)
        if model.dense_units < 0:
            raise bad("dense_units", "0 (none) or a positive integer", model.dense_units)
    if arch in BACKBONES or arch == "cnn":
        if not 0 <= model.head_dropout < 1:
            raise bad("head_dropout", "in [0, 1)", model.head_dropout)
    if arch in BACKBONES:
        if model.weights is not None and not model.weights.strip():
            raise bad("weights", "imagenet, null or a weights file path", model.weights)
        if model.input_size is not None and model.input_size < 1:
            raise bad("input_size", "null or a positive integer", model.input_size)
        if model.alpha is not None and model.alpha <= 0:
            raise bad("alpha", "a positive number", model.alpha)
        _check_fine_tune(model.fine_tune, bad)
    if arch == "file":
        if not model.path.strip():
            raise bad("path", "the path of a .keras or .h5 classifier", model.path)
        if model.input_scaling not in INPUT_SCALINGS:
            raise bad("input_scaling", f"one of {list(INPUT_SCALINGS)}", model.input_scaling)
        if model.output not in MODEL_OUTPUTS:
            raise bad("output", f"one of {list(MODEL_OUTPUTS)}", model.output)


def _check_fine_tune(fine_tune: FineTuneConfig, bad) -> None:
    if not 0 <= fine_tune.epochs <= 100_000:
        raise bad("fine_tune.epochs", "in [0, 100000] (0: no fine-tuning)", fine_tune.epochs)
    if not fine_tune.learning_rate > 0:
        raise bad("fine_tune.learning_rate", "a positive number", fine_tune.learning_rate)
    unfreeze = fine_tune.unfreeze
    if fine_tune.epochs == 0 and unfreeze is None:
        return
    is_count = isinstance(unfreeze, int) and not isinstance(unfreeze, bool) and unfreeze >= 1
    is_name = isinstance(unfreeze, str) and bool(unfreeze.strip())
    if not (is_count or is_name):
        raise bad("fine_tune.unfreeze",
                  "a number of top backbone layers (>= 1), a backbone layer name, or 'all'",
                  unfreeze)


def load_params(path: str | Path = "params.yaml") -> Config:
    """Read `params.yaml` (as DVC composed it) and validate it; see `validate`."""
    import yaml

    path = Path(path)
    if not path.is_file():
        raise ConfigError(
            f"{path}: not found; run from the project root, or compose it with `classlens params`"
        )
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as err:
        raise ConfigError(f"{path}: not valid YAML ({str(err).splitlines()[0]})") from None
    return validate(raw, source=str(path))


def compose(config_dir: str | Path = "conf", overrides: Optional[list[str]] = None) -> dict:
    """Compose `conf/` exactly as DVC does (Hydra compose API, resolved) into a plain dict."""
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir
    from omegaconf import OmegaConf

    with initialize_config_dir(config_dir=str(Path(config_dir).resolve()), version_base=None):
        cfg = hydra_compose(config_name="config", overrides=list(overrides or []))
    return OmegaConf.to_container(cfg, resolve=True)  # type: ignore[return-value]


def write_params(
    output: str | Path = "params.yaml",
    config_dir: str | Path = "conf",
    overrides: Optional[list[str]] = None,
) -> None:
    """Write `params.yaml` with DVC's own composer, so the file is byte-identical to what
    `dvc exp run` writes (validated against the schema before it replaces the old file)."""
    from dvc.utils.hydra import compose_and_dump

    from classlens.atomic import atomic_path

    validate(compose(config_dir, overrides), source=f"{config_dir}/ (composed)")
    with atomic_path(output) as tmp:
        compose_and_dump(
            tmp,
            str(Path(config_dir).resolve()),
            None,
            "config",
            str(Path(config_dir).resolve().parent),
            list(overrides or []),
        )


def flatten(raw: dict, prefix: str = "") -> dict[str, Any]:
    """`{"train": {"epochs": 3}}` -> `{"train.epochs": 3}` (lists kept as values)."""
    flat: dict[str, Any] = {}
    for key, value in raw.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(flatten(value, prefix=f"{name}."))
        else:
            flat[name] = value
    return flat
