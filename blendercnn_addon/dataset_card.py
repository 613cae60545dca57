"""The dataset card (dataset.json): how a dataset was made. The one reader and writer of its content. Blender-free.

A card says what must match for a run to resume into the folder (:class:`DatasetIdentity`), what
training needs to know about the scene (:class:`SceneFacts`: the ball's emission strength, the
world's radiance), progress, versions, and records written for people (render device and
workers, colour management, randomization, file names, notes).

``from_dict`` reads every card this add-on ever wrote: a field an older card lacks reads as
None ("not recorded"), and a None is never a difference when two identities are compared.
``to_dict`` writes the same JSON layout the cards always had, so older versions read new cards.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields, replace

from .errors import UserError
from .vector import VECTOR_FIELDS

CARD_NAME = "dataset.json"
CARD_FORMAT = "blendercnn-dataset"
CARD_FORMAT_VERSION = 1  # the layout of dataset.json; readers refuse a newer one


@dataclass(frozen=True)
class DatasetIdentity:
    """The settings that make a dataset what it is: a folder only resumes (or grows) with the same.

    seed: the dataset seed (vectors and noise are functions of (seed, index)); resolution: side in
    pixels; render_samples, denoiser and its quality / prefilter / passes, sampling_pattern, engine:
    how Cycles rendered; view_transform, look, exposure: colour management; colour_scheme,
    exclude_quadrant, x_range, y_range (metres): how vectors were drawn; object, material, node:
    what each vector changed. None: not recorded (an older card); denoise_* are None without a denoiser.
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
    x_range: tuple[float, float] | None = None
    y_range: tuple[float, float] | None = None
    object: str | None = None
    material: str | None = None
    node: str | None = None

    @classmethod
    def from_dict(cls, data: dict) -> "DatasetIdentity":
        known = {f.name for f in fields(cls)}
        values = {key: value for key, value in data.items() if key in known}
        for key in ("x_range", "y_range"):
            if values.get(key) is not None:
                values[key] = tuple(float(v) for v in values[key])
        return cls(**values)

    def to_dict(self) -> dict:
        data = asdict(self)
        for key in ("x_range", "y_range"):
            if data[key] is not None:
                data[key] = list(data[key])
        return data

    def differences(self, other: "DatasetIdentity") -> list[str]:
        """Names of the settings both record and that differ (a setting either lacks is no difference)."""
        return [f.name for f in fields(self)
                if getattr(self, f.name) is not None and getattr(other, f.name) is not None
                and getattr(self, f.name) != getattr(other, f.name)]

    def render_quality(self) -> dict:
        """The GenerationSettings quality fields this dataset was rendered with (those recorded)."""
        quality = {"samples": self.render_samples, "denoiser": self.denoiser, "denoise_quality": self.denoise_quality,
                   "denoise_prefilter": self.denoise_prefilter, "denoise_passes": self.denoise_passes,
                   "sampling_pattern": self.sampling_pattern}
        return {key: value for key, value in quality.items() if value is not None}


@dataclass(frozen=True)
class SceneFacts:
    """What the scene was: names, and the light levels models use as ceilings.

    emission_strength: the ball's emission strength (its own pixels are colour × strength in
    linear light); world_radiance: the world's brightest linear channel (0: a black world).
    None: unknown (a texture or a link drives it, or an older card).
    """

    blend_file: str | None = None
    scene: str | None = None
    object: str | None = None
    material: str | None = None
    node: str | None = None
    emission_strength: float | None = None
    world_radiance: float | None = None
    camera: str | None = None

    @classmethod
    def from_dict(cls, data: dict) -> "SceneFacts":
        known = {f.name for f in fields(cls)}
        return cls(**{key: value for key, value in data.items() if key in known})

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class DatasetCard:
    """dataset.json. count: samples asked for; finished: images on disk; complete: finished >= count.

    render, color_management, randomization and files are records for people (and older readers):
    kept as the generator wrote them. Times are ISO 8601 UTC.
    """

    identity: DatasetIdentity
    count: int
    finished: int = 0
    complete: bool = False
    addon_version: str = ""
    blender_version: str = ""
    created_utc: str = ""
    updated_utc: str = ""
    render: dict = field(default_factory=dict)
    color_management: dict = field(default_factory=dict)
    randomization: dict = field(default_factory=dict)
    vector_fields: tuple[str, ...] = VECTOR_FIELDS
    scene: SceneFacts = field(default_factory=SceneFacts)
    files: dict = field(default_factory=dict)
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
                render=dict(data.get("render") or {}), color_management=dict(data.get("color_management") or {}),
                randomization=dict(data.get("randomization") or {}),
                vector_fields=tuple(data.get("vector_fields") or VECTOR_FIELDS),
                scene=SceneFacts.from_dict(data.get("scene") or {}), files=dict(data.get("files") or {}),
                notes=tuple(data.get("notes") or ()))
        except (TypeError, ValueError) as err:
            raise UserError(f"{where} is not a readable dataset card ({err})") from None

    def to_dict(self) -> dict:
        return {"format": CARD_FORMAT, "format_version": CARD_FORMAT_VERSION, "identity": self.identity.to_dict(),
                "count": self.count, "finished": self.finished, "complete": self.complete,
                "addon_version": self.addon_version, "blender_version": self.blender_version,
                "created_utc": self.created_utc, "updated_utc": self.updated_utc, "render": dict(self.render),
                "color_management": dict(self.color_management), "randomization": dict(self.randomization),
                "vector_fields": list(self.vector_fields), "scene": self.scene.to_dict(), "files": dict(self.files),
                "notes": list(self.notes)}

    def has_identity(self) -> bool:
        """Whether the card records the settings that identify its dataset (every card since the first)."""
        return any(value is not None for value in asdict(self.identity).values())

    def with_progress(self, finished: int, updated_utc: str, notes) -> "DatasetCard":
        return replace(self, finished=finished, complete=finished >= self.count, updated_utc=updated_utc,
                       notes=tuple(notes))

    def with_render(self, **record) -> "DatasetCard":
        """This card with entries added to (or replaced in) its render record."""
        return replace(self, render={**self.render, **record})
