"""What a dataset generation run is asked to do, checked before anything is written. Blender-free.

The panel, ``python -m blendercnn_addon generate`` and ``blender -c blendercnn generate``
all build one :class:`GenerationSettings` and call :meth:`GenerationSettings.validate`,
so every entry point refuses bad input with the same message.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import asdict, dataclass, field

from .errors import UserError
from .demo_scenes import DEFAULT_DEMO, demo_scene
from .randomization import VectorSpec
from .storage import nearest_existing

MIN_RESOLUTION = 16
MAX_RESOLUTION = 4096
DEFAULT_RESOLUTION = 256  # the seed's, and the user's job
DENOISERS = ("none", "oidn", "optix", "auto")
DENOISE_QUALITIES = ("HIGH", "BALANCED", "FAST")  # OpenImageDenoise's quality modes
DENOISE_PREFILTERS = ("ACCURATE", "FAST", "NONE")  # how the albedo/normal passes are cleaned first
DENOISE_PASSES = ("RGB_ALBEDO_NORMAL", "RGB_ALBEDO", "RGB")  # what the denoiser is given besides colour
SAMPLING_PATTERNS = ("BLUE_NOISE", "TABULATED_SOBOL", "AUTOMATIC")  # Cycles' sample sequences
# "PREFERENCES" follows Edit > Preferences > System > Cycles Render Devices; the others ask for one backend.
RENDER_DEVICES = ("CPU", "PREFERENCES", "CUDA", "OPTIX", "HIP", "METAL", "ONEAPI")
MAX_WORKERS = 64
# The seed's blender.py names its samples sample_1 … sample_N and its train.py --n_files N reads exactly
# those: new datasets are numbered so. Folders made before count from 0 and keep their numbering.
SEED_NUMBERING = 1
NUMBERINGS = (0, 1)  # the first sample's number: 1 (the seed's), 0 (folders made before)


@dataclass(frozen=True)
class RenderPreset:
    """A named choice of render quality: the Cycles and OpenImageDenoise settings it stands for."""

    label: str
    description: str
    samples: int
    denoiser: str
    denoise_quality: str
    denoise_prefilter: str
    denoise_passes: str
    sampling_pattern: str

    def as_settings(self) -> dict:
        """The GenerationSettings fields this preset sets."""
        return {"samples": self.samples, "denoiser": self.denoiser, "denoise_quality": self.denoise_quality,
                "denoise_prefilter": self.denoise_prefilter, "denoise_passes": self.denoise_passes,
                "sampling_pattern": self.sampling_pattern}


# Chosen by measurement (256 x 256, 2-core CPU, one 2-thread process, 8 vectors, PSNR against
# 1024-sample denoised references; see docs/benchmarks.md): blue-noise sampling and albedo-only
# denoising beat the alternatives at 2-4 samples. Seed (32 samples): 1.75 s, 33.7 dB; 3 samples +
# OIDN fast: 0.25 s, 36.5 dB; 3 samples + OIDN balanced: 0.29 s, 37.6 dB; 2 + balanced: 0.26 s, 35.9 dB.
RENDER_PRESETS = {
    "draft": RenderPreset("Draft", "2 samples + fast denoising: quick looks and pipeline tests",
                          2, "auto", "FAST", "FAST", "RGB_ALBEDO", "BLUE_NOISE"),
    "default": RenderPreset("Default", "3 samples + fast denoising: 7x faster and cleaner than the seed's 32",
                            3, "auto", "FAST", "FAST", "RGB_ALBEDO", "BLUE_NOISE"),
    "balanced": RenderPreset("Balanced", "3 samples + balanced denoising: 1 dB cleaner than Default, 20 % slower",
                             3, "auto", "BALANCED", "FAST", "RGB_ALBEDO", "BLUE_NOISE"),
    "reference": RenderPreset("Reference", "256 samples + high-quality denoising: clean evaluation images",
                              256, "auto", "HIGH", "ACCURATE", "RGB_ALBEDO_NORMAL", "BLUE_NOISE"),
    "seed": RenderPreset("Seed", "32 samples, no denoising: the seed project's settings",
                         32, "none", "HIGH", "ACCURATE", "RGB_ALBEDO_NORMAL", "TABULATED_SOBOL"),
}
DEFAULT_PRESET = "default"


@dataclass(frozen=True)
class SceneTarget:
    """Names of what a sample changes: the object moved in x, y and the node recoloured."""

    object_name: str = "Ball"
    material_name: str = "Glow"
    node_name: str = "Emission"


@dataclass(frozen=True)
class GenerationSettings:
    """One dataset run.

    out_dir: folder that receives sample_<i>.png, metadata.json, vectors.csv, dataset.json.
    count: number of samples N, >= 1: indices first_index .. first_index + N - 1 (see indices).
    first_index: the first sample's number, SEED_NUMBERING (sample_1 … sample_N, as the seed numbers
    them) or 0 (sample_0 … sample_{N-1}, folders made before; resuming one keeps its numbering).
    resolution: square image side in pixels, 16 .. 4096.
    samples: Cycles path-tracing samples per pixel, >= 1.
    seed: dataset seed; vector and noise seed of sample i depend on (seed, i) only.
    denoiser: "none", "oidn" (OpenImageDenoise), "optix", or "auto" (best available).
    denoise_quality, denoise_prefilter, denoise_passes: OpenImageDenoise's speed/quality trade-offs.
    sampling_pattern: Cycles' sample sequence (blue noise denoises better at few samples).
    device: one of RENDER_DEVICES; a GPU that is not there falls back to CPU with a note.
    workers: local render processes (1 renders in this process); threads: Cycles threads
    per process, 0 = the machine's cores shared out among the workers.
    recycle_every: a worker process exits after this many images and a fresh one takes
    over, so memory stays flat over long runs.
    shard_index, shard_count: render only indices i with i % shard_count == shard_index.
    blend_file: optional .blend to open first; None means "set up the scene demo_scene names"
    (demo_scenes.py: the seed's ball room unless another is asked for).
    """

    out_dir: str
    count: int = 10_000
    resolution: int = DEFAULT_RESOLUTION
    samples: int = RENDER_PRESETS[DEFAULT_PRESET].samples
    seed: int = 0
    denoiser: str = RENDER_PRESETS[DEFAULT_PRESET].denoiser
    denoise_quality: str = RENDER_PRESETS[DEFAULT_PRESET].denoise_quality
    denoise_prefilter: str = RENDER_PRESETS[DEFAULT_PRESET].denoise_prefilter
    denoise_passes: str = RENDER_PRESETS[DEFAULT_PRESET].denoise_passes
    sampling_pattern: str = RENDER_PRESETS[DEFAULT_PRESET].sampling_pattern
    device: str = "CPU"
    workers: int = 1
    threads: int = 0
    recycle_every: int = 500
    shard_index: int = 0
    shard_count: int = 1
    first_index: int = SEED_NUMBERING
    vectors: VectorSpec = field(default_factory=VectorSpec)
    target: SceneTarget = field(default_factory=SceneTarget)
    blend_file: str | None = None
    demo_scene: str = DEFAULT_DEMO

    @classmethod
    def from_preset(cls, preset: str, **overrides) -> "GenerationSettings":
        """Settings with ``preset``'s render quality (see RENDER_PRESETS), then ``overrides``."""
        if preset not in RENDER_PRESETS:
            raise UserError(f"unknown preset {preset!r}; choose one of {', '.join(RENDER_PRESETS)}")
        return cls(**{**RENDER_PRESETS[preset].as_settings(), **overrides})

    @property
    def indices(self) -> range:
        """The dataset's sample indices, ascending."""
        return range(self.first_index, self.first_index + self.count)

    def in_shard(self, index: int) -> bool:
        return index % self.shard_count == self.shard_index

    def threads_per_worker(self, cores: int | None = None) -> int:
        """Cycles threads each render process gets: ``threads``, or the cores split among workers."""
        if self.threads:
            return self.threads
        return max(1, (cores or os.cpu_count() or 1) // self.workers)

    def to_dict(self) -> dict:
        """JSON-ready form (what a render worker process is given)."""
        data = asdict(self)
        data["vectors"] = self.vectors.to_dict()
        return data

    @classmethod
    def from_dict(cls, data: dict) -> "GenerationSettings":
        data = dict(data)
        vectors = data.pop("vectors")
        vectors = VectorSpec.from_dict(vectors)
        return cls(vectors=vectors, target=SceneTarget(**data.pop("target")), **data)

    def validate(self) -> None:
        """Raise :class:`UserError` for the first problem found; touches no file."""
        if not self.out_dir:
            raise UserError("no output folder given")
        if self.count <= 0:
            raise UserError(f"count must be at least 1, got {self.count}")
        if not MIN_RESOLUTION <= self.resolution <= MAX_RESOLUTION:
            raise UserError(
                f"resolution must be between {MIN_RESOLUTION} and {MAX_RESOLUTION} pixels, got {self.resolution}"
            )
        if self.samples <= 0:
            raise UserError(f"render samples must be at least 1, got {self.samples}")
        if self.seed < 0:
            raise UserError(f"seed must be 0 or more, got {self.seed}")
        if self.denoiser not in DENOISERS:
            raise UserError(f"unknown denoiser {self.denoiser!r}; choose one of {', '.join(DENOISERS)}")
        for label, value, allowed in (("denoise quality", self.denoise_quality, DENOISE_QUALITIES),
                                      ("denoise prefilter", self.denoise_prefilter, DENOISE_PREFILTERS),
                                      ("denoise passes", self.denoise_passes, DENOISE_PASSES),
                                      ("sampling pattern", self.sampling_pattern, SAMPLING_PATTERNS),
                                      ("render device", self.device, RENDER_DEVICES)):
            if value not in allowed:
                raise UserError(f"unknown {label} {value!r}; choose one of {', '.join(allowed)}")
        if not 1 <= self.workers <= MAX_WORKERS:
            raise UserError(f"workers must be between 1 and {MAX_WORKERS}, got {self.workers}")
        if self.threads < 0:
            raise UserError(f"threads must be 0 (automatic) or more, got {self.threads}")
        if self.recycle_every < 1:
            raise UserError(f"recycle-every must be at least 1 image, got {self.recycle_every}")
        if self.first_index not in NUMBERINGS:
            raise UserError(f"samples are numbered from 1 (the seed's) or 0, not {self.first_index}")
        if not 0 <= self.shard_index < self.shard_count:
            raise UserError(f"shard must be i/n with 0 <= i < n, got {self.shard_index}/{self.shard_count}")
        for label, name in (("object", self.target.object_name), ("material", self.target.material_name),
                            ("node", self.target.node_name)):
            if not name:
                raise UserError(f"no {label} name given")
        self.vectors.validate()
        demo_scene(self.demo_scene)  # UserError naming the choices
        if self.blend_file is not None:
            check_blend_file(self.blend_file)
        check_output_folder(self.out_dir)


def check_blend_file(path: str) -> None:
    """Refuse a --blend path that is missing, a folder, or not a .blend file (by its magic bytes)."""
    if not os.path.exists(path):
        raise UserError(f"blend file not found: {path}")
    if not os.path.isfile(path):
        raise UserError(f"blend file is not a file: {path}")
    with open(path, "rb") as handle:
        head = handle.read(7)
    # Blender files start with "BLENDER"; compressed ones with gzip or zstd magic bytes.
    if not (head.startswith(b"BLENDER") or head[:2] == b"\x1f\x8b" or head[:4] == b"\x28\xb5\x2f\xfd"):
        raise UserError(f"not a .blend file: {path}")


def check_output_folder(path: str) -> None:
    """Refuse an output path that is a file, or whose folder (or nearest existing parent) is not writable.

    Writability is probed with an anonymous temporary file that disappears at once,
    because ``os.access`` says yes to root even on read-only places.
    """
    if os.path.exists(path) and not os.path.isdir(path):
        raise UserError(f"output path is a file, not a folder: {path}")
    probe_dir = nearest_existing(path)
    if not os.path.isdir(probe_dir):
        raise UserError(f"output folder cannot be created: {probe_dir} is a file")
    try:
        with tempfile.TemporaryFile(dir=probe_dir):
            pass
    except OSError as err:
        raise UserError(f"output folder is not writable: {probe_dir} ({err.strerror})") from None


# Seconds per 256 x 256 image on the 2-core reference machine, one process using both cores
# (docs/FACTS.md "Rendering" and benchmarks/render_throughput.py): a fixed part, a part per
# path-tracing sample, and OpenImageDenoise's cost for its quality and prefilter.
RENDER_COST_BASE_S = 0.05
RENDER_COST_PER_SAMPLE_S = 0.058
DENOISE_COST_S = {"HIGH": 0.35, "BALANCED": 0.07, "FAST": 0.02}
DENOISE_PREFILTER_COST_S = {"ACCURATE": 0.25, "FAST": 0.0, "NONE": 0.0}
REFERENCE_CORES = 2


def estimate_seconds(settings: GenerationSettings, cores: int | None = None) -> float:
    """Rough wall time (s) to render ``settings.count`` images on this machine's CPU.

    Cost model fitted on the reference machine, scaled by pixel count and by the number
    of cores (rendering parallelises almost perfectly across worker processes).
    """
    per_image = RENDER_COST_BASE_S + RENDER_COST_PER_SAMPLE_S * settings.samples
    if settings.denoiser != "none":
        per_image += DENOISE_COST_S[settings.denoise_quality] + DENOISE_PREFILTER_COST_S[settings.denoise_prefilter]
    per_image *= (settings.resolution / 256) ** 2
    cores = cores or os.cpu_count() or 1
    return settings.count * per_image * REFERENCE_CORES / cores


def estimate_basis(settings: GenerationSettings) -> str:
    """A short qualifier for the panel's estimate line: empty for the CPU it was fitted on."""
    return " (CPU estimate)" if settings.device != "CPU" else ""
