"""The dataset card (dataset.json): how a dataset was made. The one reader and writer of its content. Blender-free.

Every part of the card is a typed record with ``from_dict`` / ``to_dict``, and each fact is said
once: what must match for a run to resume into the folder (:class:`DatasetIdentity`: seed,
resolution, render quality, colour management, the vector's ranges, the scene's names), what
training needs to know about the scene (:class:`SceneFacts`), how the images were rendered
beyond that (:class:`RenderRecord`: device, workers), the colour-management settings that are no
part of the identity and the baked view table (:class:`ColourRecord`), the files
(:class:`FilesRecord`), progress, versions and notes.

``from_dict`` reads every card this add-on ever wrote: a field an older card lacks reads as None
("not recorded"), and a None is never a difference when two identities are compared; keys a
record does not know (facts older cards said twice) are dropped on reading. ``to_dict`` leaves
out what is not recorded, and every key an older version reads is where it always was, so older
versions read new cards.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields, replace

from .errors import UserError
from .vector import DEFAULT_LAYOUT, VectorLayout

CARD_NAME = "dataset.json"
CARD_FORMAT = "blendercnn-dataset"
CARD_FORMAT_VERSION = 1  # the layout of dataset.json; readers refuse a newer one
SHOWN_DIFFERENCES = 3  # a message names this many of the parameters that differ
PARAMETERS_KEY = "parameters"  # the identity's vector layout, written only when it is not the default


class _Record:
    """from_dict / to_dict for a flat frozen dataclass: unknown keys dropped on reading, fields that
    are None left out on writing (an older card lacks them; it reads back the same)."""

    @classmethod
    def from_dict(cls, data: dict):
        known = {f.name for f in fields(cls)}
        return cls(**{key: value for key, value in (data or {}).items() if key in known})

    def to_dict(self) -> dict:
        return {key: value for key, value in asdict(self).items() if value is not None}


@dataclass(frozen=True)
class DatasetIdentity:
    """The settings that make a dataset what it is: a folder only resumes (or grows) with the same.

    seed: the dataset seed (vectors and noise are functions of (seed, index)); resolution: side in
    pixels; render_samples, denoiser and its quality / prefilter / passes, sampling_pattern, engine:
    how Cycles rendered; view_transform, look, exposure: colour management; colour_scheme,
    exclude_quadrant and ranges ({field name: (low, high)} of vector.RANGED_FIELDS, written as
    "<name>_range", e.g. "x_range" in metres): how vectors were drawn; object, material, node: what
    each vector changed; first_index: the first sample's number (1: sample_1 … sample_N, the seed's
    numbering; None in cards from before it was recorded, whose folders count from 0, see
    numbering()). None: not recorded (an older card); denoise_* are None without a denoiser.
    layout: the vector's fields (vector.VectorLayout), written as "parameters" when the user picked
    other parameters than the ball room's five (a card without it has the default layout; a
    difference in it is always one).
    """

    seed: int | None = None
    resolution: int | None = None
    render_samples: int | None = None
    denoiser: str | None = None
    denoise_quality: str | None = None
    denoise_prefilter: str | None = None
    denoise_passes: str | None = None
    sampling_pattern: str | None = None
    engine: str | None = None
    view_transform: str | None = None
    look: str | None = None
    exposure: float | None = None
    colour_scheme: str | None = None
    exclude_quadrant: bool | None = None
    ranges: dict[str, tuple[float, float]] | None = None
    object: str | None = None
    material: str | None = None
    node: str | None = None
    first_index: int | None = None
    layout: VectorLayout = DEFAULT_LAYOUT

    @classmethod
    def from_dict(cls, data: dict) -> "DatasetIdentity":
        known = {f.name for f in fields(cls)} - {"ranges", "layout"}
        values = {key: value for key, value in data.items() if key in known}
        layout = VectorLayout.from_list(data[PARAMETERS_KEY]) if data.get(PARAMETERS_KEY) else DEFAULT_LAYOUT
        ranges = {f.name: (float(data[key][0]), float(data[key][1]))
                  for f in layout.ranged if data.get(key := f"{f.name}_range") is not None}
        return cls(**values, ranges=ranges or None, layout=layout)

    def to_dict(self) -> dict:
        """The identity as the card has always written it: every setting (None where not recorded),
        the ranges as "<name>_range": [low, high], and "parameters" for a layout of the user's."""
        data = {f.name: getattr(self, f.name) for f in fields(self) if f.name not in ("ranges", "layout")}
        for name in (f.name for f in self.layout.ranged):
            data[f"{name}_range"] = list(self.ranges[name]) if self.ranges and name in self.ranges else None
        if not self.layout.is_default:
            data[PARAMETERS_KEY] = self.layout.to_list()
        return data

    def numbering(self) -> int:
        """The first sample's number in this dataset's folder: the recorded one, else 0 (a folder made
        before the seed's numbering was adopted)."""
        return 0 if self.first_index is None else self.first_index

    def range_of(self, name: str) -> tuple[float, float] | None:
        """The recorded (low, high) of ranged field ``name``, or None when not recorded."""
        return (self.ranges or {}).get(name)

    def differences(self, other: "DatasetIdentity") -> list[str]:
        """Names of the settings both record and that differ (a setting either lacks is no difference),
        as the card names them ("x_range" for a range); a different vector layout is "parameters (…)",
        naming the fields that differ."""
        if self.layout != other.layout:
            lines = self.layout.differences(other.layout, "in the folder", "asked for")
            shown = SHOWN_DIFFERENCES
            more = f"; and {len(lines) - shown} more" if len(lines) > shown else ""
            return [f"{PARAMETERS_KEY} ({'; '.join(lines[:shown])}{more})"]
        mine, theirs = self.to_dict(), other.to_dict()
        return [key for key in mine if mine[key] is not None and theirs.get(key) is not None
                and mine[key] != theirs[key]]

    def render_quality(self) -> dict:
        """The GenerationSettings quality fields this dataset was rendered with (those recorded)."""
        quality = {"samples": self.render_samples, "denoiser": self.denoiser, "denoise_quality": self.denoise_quality,
                   "denoise_prefilter": self.denoise_prefilter, "denoise_passes": self.denoise_passes,
                   "sampling_pattern": self.sampling_pattern}
        return {key: value for key, value in quality.items() if value is not None}

    def recorded(self) -> bool:
        """Whether anything is recorded (every card since the first records its identity)."""
        return any(value is not None for value in self.to_dict().values())


@dataclass(frozen=True)
class SceneFacts(_Record):
    """What the scene was (the object, material and node a vector changes are the identity's): the
    .blend file, the scene's and the camera's names, and the light levels models use as ceilings.

    emission_strength: the ball's emission strength (its own pixels are colour × strength in
    linear light); world_radiance: the world's brightest linear channel (0: a black world).
    None: unknown (a texture or a link drives it, or an older card).
    """

    blend_file: str | None = None
    scene: str | None = None
    emission_strength: float | None = None
    world_radiance: float | None = None
    camera: str | None = None

    def to_dict(self) -> dict:
        return asdict(self)  # every name, None included, as cards always had them


@dataclass(frozen=True)
class RenderRecord(_Record):
    """How the images were rendered, beyond the identity's render quality: for people and support.

    device: what rendered ("CPU", a GPU backend, or the devices the workers reported);
    device_requested, denoiser_requested: what was asked for (a missing GPU or denoiser falls back);
    workers, threads_per_worker (or "auto"), recycle_every: the render processes; backend: "ray (N actors)"
    for a Ray cluster (None: local processes); worker_processes_started, worker_restarts_after_crash: what
    they did; adaptive_sampling, light_tree: Cycles features the
    renders turn off; file_format, color_mode, color_depth: the PNGs."""

    device: str | None = None
    device_requested: str | None = None
    denoiser_requested: str | None = None
    workers: int | None = None
    threads_per_worker: int | str | None = None
    recycle_every: int | None = None
    backend: str | None = None
    worker_processes_started: int | None = None
    worker_restarts_after_crash: int | None = None
    adaptive_sampling: bool | None = None
    light_tree: bool | None = None
    file_format: str | None = None
    color_mode: str | None = None
    color_depth: int | None = None


@dataclass(frozen=True)
class ViewTableRecord(_Record):
    """The scene's view transform baked as a 3-D table (view_lut.py; its file is FilesRecord.view_transform):
    its grid."""

    size: int | None = None
    min: float | None = None
    max: float | None = None
    nodes: str | None = None
    layout: str | None = None
    baked_by: str | None = None


@dataclass(frozen=True)
class ColourRecord(_Record):
    """Colour management beyond the identity's view transform, look and exposure: the display, the
    gamma and dither the PNGs were written with, and the baked view table."""

    display_device: str | None = None
    gamma: float | None = None
    dither_intensity: float | None = None
    lut: ViewTableRecord | None = None

    @classmethod
    def from_dict(cls, data: dict) -> "ColourRecord":
        record = super().from_dict(data)
        lut = (data or {}).get("lut")
        return replace(record, lut=ViewTableRecord.from_dict(lut) if isinstance(lut, dict) else None)

    def to_dict(self) -> dict:
        data = super().to_dict()
        if self.lut is not None:
            data["lut"] = self.lut.to_dict()
        return data


@dataclass(frozen=True)
class FilesRecord(_Record):
    """The dataset's files by role ("sample_<i>.png" for the images)."""

    images: str | None = None
    metadata: str | None = None
    vectors: str | None = None
    huggingface_metadata: str | None = None
    view_transform: str | None = None
    geometry: str | None = None
    noise_seed: str | None = None


@dataclass(frozen=True)
class DatasetCard:
    """dataset.json. count: samples asked for; finished: images on disk; complete: finished >= count.
    Times are ISO 8601 UTC; vector_fields: the vector's names, in order (its identity's layout)."""

    identity: DatasetIdentity
    count: int
    finished: int = 0
    complete: bool = False
    addon_version: str = ""
    blender_version: str = ""
    created_utc: str = ""
    updated_utc: str = ""
    render: RenderRecord = field(default_factory=RenderRecord)
    color_management: ColourRecord = field(default_factory=ColourRecord)
    vector_fields: tuple[str, ...] = DEFAULT_LAYOUT.names
    scene: SceneFacts = field(default_factory=SceneFacts)
    files: FilesRecord = field(default_factory=FilesRecord)
    notes: tuple[str, ...] = ()

    @classmethod
    def from_dict(cls, data, where: str = CARD_NAME) -> "DatasetCard":
        """The card in ``data`` (parsed JSON); UserError naming ``where`` if it is not a card we can read."""
        if not isinstance(data, dict) or data.get("format") != CARD_FORMAT:
            raise UserError(f"{where} is not a BlenderCNN dataset card")
        version = data.get("format_version", 1)
        if not isinstance(version, int) or version > CARD_FORMAT_VERSION:
            raise UserError(f"{where} was written by a newer BlenderCNN (card format {version}); update the add-on")
        identity = data.get("identity")
        try:
            return cls(
                identity=DatasetIdentity.from_dict(identity) if isinstance(identity, dict) else DatasetIdentity(),
                count=int(data.get("count", 0)), finished=int(data.get("finished", 0)),
                complete=bool(data.get("complete", False)),
                addon_version=str(data.get("addon_version", "")), blender_version=str(data.get("blender_version", "")),
                created_utc=str(data.get("created_utc", "")), updated_utc=str(data.get("updated_utc", "")),
                render=RenderRecord.from_dict(_object(data, "render")),
                color_management=ColourRecord.from_dict(_object(data, "color_management")),
                vector_fields=tuple(data.get("vector_fields") or DEFAULT_LAYOUT.names),
                scene=SceneFacts.from_dict(_object(data, "scene")), files=FilesRecord.from_dict(_object(data, "files")),
                notes=tuple(data.get("notes") or ()))
        except (TypeError, ValueError, IndexError, KeyError) as err:
            raise UserError(f"{where} is not a readable dataset card ({err})") from None

    def to_dict(self) -> dict:
        return {"format": CARD_FORMAT, "format_version": CARD_FORMAT_VERSION, "identity": self.identity.to_dict(),
                "count": self.count, "finished": self.finished, "complete": self.complete,
                "addon_version": self.addon_version, "blender_version": self.blender_version,
                "created_utc": self.created_utc, "updated_utc": self.updated_utc, "render": self.render.to_dict(),
                "color_management": self.color_management.to_dict(), "vector_fields": list(self.vector_fields),
                "scene": self.scene.to_dict(), "files": self.files.to_dict(), "notes": list(self.notes)}

    def has_identity(self) -> bool:
        """Whether the card records the settings that identify its dataset (every card since the first)."""
        return self.identity.recorded()

    def with_progress(self, finished: int, updated_utc: str, notes) -> "DatasetCard":
        return replace(self, finished=finished, complete=finished >= self.count, updated_utc=updated_utc,
                       notes=tuple(notes))

    def with_render(self, **record) -> "DatasetCard":
        """This card with fields of its render record replaced."""
        return replace(self, render=replace(self.render, **record))


def _object(data: dict, key: str) -> dict:
    """data[key] when it is a JSON object, else {} (not recorded); a card that is not ours fails elsewhere."""
    value = data.get(key)
    if value is not None and not isinstance(value, dict):
        raise ValueError(f"{key} is not a JSON object")
    return value or {}
