"""Training configuration with defaults for CPU (reduced UNETR) and GPU (standard UNETR)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from ..enhance import BlobFilter
from .faint import FaintTumours
from .insertion import SyntheticTumours
from ..models.network import reduced_unetr_config, standard_unetr_config
from ..precision import PRECISIONS  # noqa: F401  (what ``TrainConfig.precision`` may be)


@dataclass
class TrainConfig:
    """Everything that determines a training run (recorded in the model card)."""

    name: str = "lungtumorseg-model"
    version: str = "0.1.0"
    description: str = "Region-wise UNETR lung tumour segmentation"
    demo: bool = False
    zones: list[str] = field(default_factory=lambda: ["upper", "middle", "lower"])
    network: dict[str, Any] = field(default_factory=reduced_unetr_config)
    spacing_mm: list[float] = field(default_factory=lambda: [1.5, 1.5, 1.5])
    window_hu: list[float] = field(default_factory=lambda: [-1000.0, 500.0])
    lung_channel: bool = False  # second input channel: the classical lung mask
    blob_channel: dict[str, Any] | None = None  # last input channel: BlobFilter parameters (enhance.py)
    zone_overlap_mm: float = 15.0
    zone_margin_mm: float = 20.0
    zone_context_mm: float = 16.0
    steps: int = 600
    max_minutes: float | None = None  # per zone; training stops early when reached
    batch_size: int = 2
    lr: float = 3e-4
    weight_decay: float = 1e-5
    dice_batch: bool = True  # Dice over the whole batch: tumour-free patches don't add a constant loss of 1
    loss: str = "dice-ce"  # or "tversky-ce" (training/losses.py): false negatives weighted by tversky_beta
    tversky_beta: float = 0.7
    # "best": the weights of the best validation Dice (the starting weights compete with --init-from);
    # "last": the final step's (no early stopping) - for losses that move the probabilities away from
    # the 0.5 level at which validation Dice is measured
    keep_weights: str = "best"
    grad_clip: float = 1.0  # max gradient norm (transformers are prone to early spikes)
    warmup_steps: int = 30
    positive_ratio: float = 0.5
    # "voxel": tumour centres uniform over a case's tumour voxels (large masses dominate);
    # "lesion": uniform over lesions, so small and faint nodules are seen as often (sampler.py)
    positive_sampling: str = "voxel"
    # faint-tumour copies of each training case with tumour (training/faint.py): its tumours
    # faded towards the surrounding lung, like ground-glass and part-solid nodules
    faint_copies: int = 0
    faint_keep_range: list[float] = field(default_factory=lambda: [0.15, 0.55])
    faint_core_probability: float = 0.4
    # synthetic-tumour copies of every training case (training/insertion.py): new tumours of
    # the phantom engine's model drawn into its lungs, weighted towards the faint kinds
    synthetic_copies: int = 0
    synthetic_per_copy: list[int] = field(default_factory=lambda: [2, 4])
    synthetic_kind_weights: list[float] = field(default_factory=lambda: [0.4, 0.3, 0.3])
    synthetic_median_diameter_mm: float = 14.0
    synthetic_diameter_range_mm: list[float] = field(default_factory=lambda: [6.0, 40.0])
    # fraction of all patches cut around a tumour of the same law drawn into a case's crop as the
    # patch is sampled, never seen before (training/fresh_tumours.py; needs lung_channel)
    fresh_tumour_ratio: float = 0.0
    lung_ratio: float = 0.3  # hard negatives centred in the lung prior (needs lung_channel)
    hard_negatives: str = "lung"  # "lung": any lung-prior voxel; "dense": vessels & other dense lung voxels
    dense_hu: float = -500.0  # what "dense" means for hard_negatives="dense"
    mined_ratio: float = 0.0  # patches centred on the starting model's false positives (needs init_from)
    mining_threshold: float = 0.5  # probability at which the starting model's response counts as a finding
    elastic_prob: float = 0.05
    val_fraction: float = 0.15
    val_every: int = 100
    checkpoint_every: int = 25
    patience: int = 6  # validations without improvement before early stopping
    fold: int | None = None
    # Seed of the train/validation split, separate from ``seed`` so that every stage of a
    # multi-stage recipe (pre-training, fine-tuning) validates on the same held-back cases.
    split_seed: int = 0
    init_from: str | None = None  # model package whose zone weights start the training
    seed: int = 0
    device: str = "cpu"
    # one of PRECISIONS. "bf16": forward passes of training under bfloat16 autocast (weights,
    # optimiser and loss stay float32). On a CPU with AVX-512 BF16 a 48³ training step takes
    # 0.17 s instead of 0.33 s (benchmarks/train_step_cost.py); validation and mining stay float32.
    precision: str = "fp32"
    threads: int | None = None
    threshold: float = 0.5
    min_lesion_mm3: float = 30.0

    def dense_level(self) -> float | None:
        """``dense_hu`` on the network's [0, 1] intensity scale, or None for "lung" negatives."""
        if self.hard_negatives == "lung":
            return None
        if self.hard_negatives != "dense":
            raise ValueError(f"hard_negatives must be 'lung' or 'dense', got {self.hard_negatives!r}")
        low, high = self.window_hu
        return (self.dense_hu - low) / (high - low)

    def blob_filter(self) -> BlobFilter | None:
        """The nodule-enhancement channel's filter, or None without that channel."""
        return BlobFilter.from_card(self.blob_channel)

    def faint_tumours(self) -> FaintTumours:
        """How the faint-tumour copies fade their tumours."""
        return FaintTumours(tuple(self.faint_keep_range), self.faint_core_probability)

    def synthetic_tumours(self) -> SyntheticTumours:
        """Which tumours the synthetic-tumour copies get."""
        return SyntheticTumours(tuple(self.synthetic_per_copy), tuple(self.synthetic_kind_weights),
                                self.synthetic_median_diameter_mm, tuple(self.synthetic_diameter_range_mm))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def for_device(cls, device: str, **overrides: Any) -> "TrainConfig":
        """Defaults by device: on a GPU the standard UNETR (96³, hidden 768) of the paper."""
        cfg = cls(device=device)
        if device.startswith("cuda"):
            cfg.network = standard_unetr_config(96)
            cfg.steps = 20000
            cfg.batch_size = 4
            cfg.lr = 1e-4
            cfg.val_every = 500
            cfg.checkpoint_every = 250
            cfg.elastic_prob = 0.2
            cfg.patience = 10
        for key, value in overrides.items():
            if value is not None:
                setattr(cfg, key, value)
        return cfg
