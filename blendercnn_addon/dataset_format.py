"""The dataset folder on disk: names, atomic writes, resume and compatibility. Blender-free.

Layout of a dataset folder::

    dataset.json      the dataset card: how it was made (settings, versions, progress)
    metadata.json     seed-compatible: {"sample_<i>": [r, g, b, x, y], ...}, sorted by i
    vectors.csv       name,index,r,g,b,x,y,noise_seed — one row per finished sample
    metadata.jsonl    {"file_name": "sample_<i>.png", "r": .., "g": .., "b": .., "x": .., "y": ..} per line:
                      Hugging Face datasets' imagefolder layout
    sample_<i>.png    the images, i = 0 .. count-1 (no zero padding, as in the seed)

Crash safety rests on one rule: a file only ever appears under its final name
by ``os.replace`` of a complete temporary file in the same folder, and an image
only after :mod:`.png_check` found it whole and of the dataset's size (a full disk
makes Blender write empty or truncated PNGs without an error). So after a crash,
``sample_<i>.png`` present means sample i is done — and resume checks each one again,
rendering anew any that was damaged later. metadata.json and vectors.csv can always
be rebuilt from the card and the set of finished images (vectors are a pure function
of the seed and index).

One writer per folder: a run holds an exclusive lock on ``.blendercnn/writer.lock``
(a shard: a shared one, plus an exclusive lock on its own shard's file), so a second
run into the same folder is refused at once instead of rendering every image twice.
The operating system drops the locks of a process that dies, so none is ever stale.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
from typing import Callable, Iterable, Mapping, Sequence

from .dataset_card import CARD_NAME, DatasetCard, DatasetIdentity
from .errors import UserError
from .file_lock import EXCLUSIVE, SHARED, FileLock, LockHeld, is_held
from .png_check import DamagedImage, check_png
from .vector import VECTOR_FIELDS

METADATA_NAME = "metadata.json"
VECTORS_NAME = "vectors.csv"
# Hugging Face datasets' imagefolder reads this beside the images: load_dataset("imagefolder", data_dir=DIR)
HF_METADATA_NAME = "metadata.jsonl"
TEMP_SUFFIX = ".partial"
WORK_FOLDER = ".blendercnn"  # hidden: the workers' scene copy, logs and locks, inside the dataset folder
# Tables baked from the scene before the first image (written by the generator, read by training).
SCENE_TABLE_NAMES = ("view_transform_lut.npy", "scene_geometry.npz")
_SAMPLE_RE = re.compile(r"^sample_(\d+)\.png$")
_TEMP_IMAGE_RE = re.compile(r"^\.sample_(\d+)\.png" + re.escape(TEMP_SUFFIX) + "$")

Vector = Sequence[float]


def sample_name(index: int) -> str:
    """Key of sample ``index`` in metadata.json, and the stem of its image."""
    return f"sample_{index}"


def write_atomically(path: str, data: bytes) -> None:
    """Write ``data`` to ``path`` so readers see either the old file or the whole new one."""
    folder, name = os.path.split(path)
    # host and pid in the name: shards on several machines may share the folder
    temp_path = os.path.join(folder, f".{name}.{socket.gethostname()}-{os.getpid()}{TEMP_SUFFIX}")
    try:
        with open(temp_path, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp_path, path)
    except BaseException:
        try:
            os.remove(temp_path)  # a failed write (a full disk) leaves no partial file behind
        except OSError:
            pass
        raise


def read_json(path: str, what: str):
    """The JSON in ``path``; UserError "PATH is not a readable WHAT (why)" when it cannot be read or parsed."""
    try:
        with open(path, encoding="utf-8") as handle:
            return json.load(handle)
    except (OSError, ValueError) as err:
        raise UserError(f"{path} is not a readable {what} ({err})") from None


def metadata_bytes(vectors: Mapping[int, Vector]) -> bytes:
    """metadata.json content: one sample per line, sorted by index, floats as repr (round-trips)."""
    lines = [f'  "{sample_name(i)}": {json.dumps([float(v) for v in vectors[i]])}' for i in sorted(vectors)]
    return ("{\n" + ",\n".join(lines) + "\n}\n").encode()


def vectors_csv_bytes(vectors: Mapping[int, Vector], noise_seeds: Mapping[int, int],
                      names: Sequence[str] = VECTOR_FIELDS) -> bytes:
    """vectors.csv content: header (name, index, the vector's ``names``, noise_seed) then one row per
    sample, sorted by index."""
    rows = [",".join(("name", "index", *names, "noise_seed"))]
    for i in sorted(vectors):
        values = ",".join(repr(float(v)) for v in vectors[i])
        rows.append(f"{sample_name(i)},{i},{values},{noise_seeds[i]}")
    return ("\n".join(rows) + "\n").encode()


def hf_metadata_bytes(vectors: Mapping[int, Vector], names: Sequence[str] = VECTOR_FIELDS) -> bytes:
    """metadata.jsonl content: {"file_name": "sample_<i>.png", "r": ..., ..., "y": ...} per line (the
    vector's ``names``), by index."""
    lines = [json.dumps({"file_name": sample_name(i) + ".png",
                         **{name: float(value) for name, value in zip(names, vectors[i])}})
             for i in sorted(vectors)]
    return ("\n".join(lines) + "\n").encode() if lines else b""


class DatasetFolder:
    """One dataset output folder. Creating the object touches nothing on disk."""

    def __init__(self, path: str):
        self.path = os.path.abspath(path)

    def file(self, name: str) -> str:
        return os.path.join(self.path, name)

    def image_path(self, index: int) -> str:
        return self.file(sample_name(index) + ".png")

    def temp_image_path(self, index: int) -> str:
        """Where sample ``index`` is rendered before it is renamed into place (hidden, never scanned)."""
        return self.file(f".{sample_name(index)}.png{TEMP_SUFFIX}")

    def read_card(self) -> DatasetCard | None:
        """The card in the folder (the one reader of dataset.json), or None when there is none.
        Raises UserError if it is unreadable, not a card, or from a newer version."""
        path = self.file(CARD_NAME)
        if not os.path.exists(path):
            return None
        return DatasetCard.from_dict(read_json(path, "dataset card"), where=path)

    def finished_indices(self) -> set[int]:
        """Indices whose image is in place under its final name."""
        if not os.path.isdir(self.path):
            return set()
        found = (_SAMPLE_RE.match(name) for name in os.listdir(self.path))
        return {int(match.group(1)) for match in found if match}

    def verified_indices(self, resolution: int, owns: Callable[[int], bool] | None = None
                         ) -> tuple[set[int], dict[int, str]]:
        """(indices whose image is whole and R x R, {index: what is wrong} for damaged ones).

        Only images this run owns (``owns(i)``; None: all) are checked: a shard leaves other
        shards' images to them. Reads only; :meth:`discard_image` removes a damaged one."""
        good, damaged = set(), {}
        for index in sorted(self.finished_indices()):
            if owns is not None and not owns(index):
                good.add(index)
                continue
            try:
                check_png(self.image_path(index), resolution, resolution)
                good.add(index)
            except (DamagedImage, OSError) as err:
                damaged[index] = str(err)
        return good, damaged

    def discard_image(self, index: int) -> None:
        """Delete sample_<index>.png (a damaged one, to be rendered again)."""
        try:
            os.remove(self.image_path(index))
        except FileNotFoundError:
            pass

    def check_can_hold(self, identity: DatasetIdentity, indices: range) -> None:
        """Refuse to write a dataset with ``identity`` and these sample ``indices`` where it would mix with
        another.

        Accepted: a missing or empty folder, or one whose card has the same identity
        (then the run resumes, or grows the dataset to ``len(indices)`` samples).
        """
        if not os.path.isdir(self.path):
            return
        visible = [name for name in os.listdir(self.path) if not name.startswith(".")]
        card = self.read_card()
        if card is None:
            # Only the scene tables: a run of an older version stopped before its first card.
            if visible and not set(visible) <= set(SCENE_TABLE_NAMES):
                raise UserError(
                    f"output folder {self.path} is not empty and holds no BlenderCNN dataset; choose an empty folder"
                )
            return
        if not card.has_identity():
            raise UserError(f"{self.file(CARD_NAME)} records no dataset identity (settings), so resuming could "
                            "mix two datasets; choose another folder")
        # A setting the folder's card does not record (made by an older version) is not a difference.
        differences = sorted(card.identity.differences(identity))
        if differences:
            raise UserError(
                f"output folder {self.path} holds a different dataset (differs in: {', '.join(differences)}); "
                "use the same settings to resume, or choose another folder"
            )
        finished = self.finished_indices()
        beyond = [i for i in finished if i >= indices.stop]
        if beyond:
            raise UserError(
                f"output folder {self.path} already holds {len(finished)} samples, more than the {len(indices)} "
                f"asked for; ask for at least {max(beyond) - indices.start + 1} or choose another folder"
            )

    def prepare(self, owns: Callable[[int], bool] | None = None) -> None:
        """Create the folder and delete temporary images left by an interrupted run.

        ``owns(i)`` says which samples' temporaries are this run's to delete: a shard must not
        delete the image another shard (another process or machine) is rendering right now.
        None: the run owns the whole folder (then half-written tables go too).
        """
        os.makedirs(self.path, exist_ok=True)
        for name in os.listdir(self.path):
            if not (name.startswith(".") and name.endswith(TEMP_SUFFIX)):
                continue
            match = _TEMP_IMAGE_RE.match(name)
            if owns is None or (match and owns(int(match.group(1)))):
                os.remove(self.file(name))

    def discard_temp_image(self, index: int) -> None:
        """Remove sample ``index``'s temporary image if there is one (a stopped worker's)."""
        try:
            os.remove(self.temp_image_path(index))
        except FileNotFoundError:
            pass

    def commit_image(self, index: int, resolution: int) -> None:
        """Move a fully written temporary image into place as sample_<index>.png, after checking it
        is a whole R x R PNG. A damaged one is deleted and raises DamagedImage (nothing is committed)."""
        temp = self.temp_image_path(index)
        try:
            check_png(temp, resolution, resolution)
        except (DamagedImage, OSError) as err:
            try:
                os.remove(temp)
            except OSError:
                pass
            raise DamagedImage(f"sample {index}: Blender wrote a damaged image ({err})") from None
        os.replace(temp, self.image_path(index))

    def remove_stale_work(self, is_alive: Callable[[int], bool]) -> None:
        """Delete ``.blendercnn/run-<this host>-<pid>`` folders of runs that died (kill -9, a crash)."""
        work = self.file(WORK_FOLDER)
        prefix = f"run-{socket.gethostname()}-"
        if not os.path.isdir(work):
            return
        for name in os.listdir(work):
            pid = name[len(prefix):]
            if name.startswith(prefix) and pid.isdigit() and not is_alive(int(pid)):
                shutil.rmtree(os.path.join(work, name), ignore_errors=True)

    def lock(self, shard_index: int = 0, shard_count: int = 1) -> "WriterLock":
        """Take this run's writer lock (see the module docstring); UserError when another run holds it."""
        return WriterLock(self, shard_index, shard_count)

    def writer_running(self) -> bool:
        """Whether a generate run (or a shard of one) is writing into this folder now: its lock is held.

        Probed with a shared lock taken and dropped at once (it conflicts only with a writer's
        exclusive lock; file_lock.is_held); False when there is no work folder yet."""
        work = self.file(WORK_FOLDER)
        if not os.path.isdir(work):
            return False
        names = ["writer.lock", *(n for n in os.listdir(work) if n.startswith("shard-") and n.endswith(".lock"))]
        return any(is_held(os.path.join(work, name)) for name in names)

    def write_tables(self, vectors: Mapping[int, Vector], noise_seeds: Mapping[int, int],
                     names: Sequence[str] = VECTOR_FIELDS) -> None:
        """Rewrite metadata.json, vectors.csv and metadata.jsonl (each atomically) for the finished samples;
        ``names``: the vector's columns (its layout's)."""
        write_atomically(self.file(METADATA_NAME), metadata_bytes(vectors))
        write_atomically(self.file(VECTORS_NAME), vectors_csv_bytes(vectors, noise_seeds, names))
        write_atomically(self.file(HF_METADATA_NAME), hf_metadata_bytes(vectors, names))

    def write_card(self, card: DatasetCard) -> None:
        """Write dataset.json (atomically), in the layout every version reads."""
        text = json.dumps(card.to_dict(), indent=2, sort_keys=True) + "\n"
        write_atomically(self.file(CARD_NAME), text.encode())


class WriterLock:
    """The lock of one run writing into a dataset folder (file_lock.py: it holds on Windows too);
    :meth:`release` (or process exit) drops it."""

    def __init__(self, folder: DatasetFolder, shard_index: int, shard_count: int):
        self._locks: list[FileLock] = []
        work = folder.file(WORK_FOLDER)
        os.makedirs(work, exist_ok=True)
        sharded = shard_count > 1
        try:
            self._locks.append(FileLock(os.path.join(work, "writer.lock"), SHARED if sharded else EXCLUSIVE))
            if sharded:
                self._locks.append(FileLock(os.path.join(work, f"shard-{shard_index}-of-{shard_count}.lock")))
        except LockHeld:
            self.release()
            what = f"shard {shard_index}/{shard_count}" if sharded else "a run"
            raise UserError(f"another generate run is writing into {folder.path} (it holds the lock "
                            f"{WORK_FOLDER}/writer.lock against {what}); wait for it to end, or use --shard "
                            "I/N in every run to split the work") from None

    def release(self) -> None:
        for lock in self._locks:
            lock.release()
        self._locks.clear()


def read_metadata(path: str) -> dict[int, list[float]]:
    """Read a metadata.json (ours or the seed's) into {index: [r, g, b, x, y]}."""
    with open(path, encoding="utf-8") as handle:
        raw = json.load(handle)
    if not isinstance(raw, dict):
        raise UserError(f"{path} is not a metadata table (a JSON object of sample_<i>: [r, g, b, x, y])")
    vectors = {}
    for key, value in raw.items():
        match = re.fullmatch(r"sample_(\d+)", key)
        if not match:
            raise UserError(f"{path}: unexpected key {key!r} (expected sample_<i>)")
        if not isinstance(value, list) or not all(isinstance(v, (int, float)) and not isinstance(v, bool)
                                                  for v in value):
            raise UserError(f"{path}: {key} is {json.dumps(value)[:80]}, not a list of numbers")
        vectors[int(match.group(1))] = [float(v) for v in value]
    return vectors


class PendingIndices:
    """The samples a run still has to render, ascending: those of ``indices`` (a dataset's,
    GenerationSettings.indices) in the shard (i % shard_count == shard_index) and not finished.

    Held as the range, the shard and the set of finished samples, never as a list: its memory grows
    with the work done, not with the count asked for (a count of 10⁹ costs nothing until refused).
    Iterating is lazy and sees samples discarded meanwhile (render pools iterate it while the run
    records finished samples)."""

    def __init__(self, indices: range, shard_index: int = 0, shard_count: int = 1, finished: Iterable[int] = ()):
        first = indices.start + (shard_index - indices.start) % shard_count
        self._shard = range(first, indices.stop, shard_count)
        self._done = {i for i in finished if i in self._shard}
        self._cursor = 0  # every position of _shard before it is done

    @property
    def total(self) -> int:
        """How many samples the shard holds, finished or not."""
        return len(self._shard)

    def __len__(self) -> int:
        return len(self._shard) - len(self._done)

    def __bool__(self) -> bool:
        return len(self) > 0

    def __contains__(self, index: int) -> bool:
        return index in self._shard and index not in self._done

    def __iter__(self):
        for position in range(self._cursor, len(self._shard)):
            index = self._shard[position]
            if index not in self._done:
                yield index

    def first(self) -> int | None:
        """The lowest sample still to render, or None."""
        return next(iter(self), None)

    def discard(self, index: int) -> None:
        """Record ``index`` as finished (no longer pending)."""
        if index in self._shard:
            self._done.add(index)
            while self._cursor < len(self._shard) and self._shard[self._cursor] in self._done:
                self._cursor += 1


