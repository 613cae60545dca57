"""Is this PNG file whole? A pure-Python check, for Blender's Python (no PIL there). Blender-free.

A render written on a full disk, or cut short by a crash, can leave a file of zero bytes, a
truncated one, or garbage. The generator checks every image before it gets its final name, and
resume re-checks what it counts as done, with :func:`check_png`: the signature, every chunk's
length and CRC, the header's size, and that the compressed pixel data inflates to exactly
``height`` rows of ``width`` pixels (plus a filter byte per row). About a millisecond for a
256 x 256 image.
"""

from __future__ import annotations

import struct
import zlib

SIGNATURE = b"\x89PNG\r\n\x1a\n"
# Bytes per pixel for (colour type, bit depth 8): grey, RGB, palette, grey+alpha, RGBA.
_CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}


class DamagedImage(ValueError):
    """The file is not a whole PNG of the expected size; the message says what is wrong."""


def check_png(path: str, width: int | None = None, height: int | None = None) -> None:
    """Raise :class:`DamagedImage` unless ``path`` is a complete, non-interlaced PNG of
    ``width`` x ``height`` pixels (None: any size). OSError when it cannot be read."""
    with open(path, "rb") as handle:
        data = handle.read()
    check_png_bytes(data, width, height)


def check_png_bytes(data: bytes, width: int | None = None, height: int | None = None) -> None:
    """:func:`check_png` for PNG bytes in memory."""
    if not data:
        raise DamagedImage("empty file")
    if not data.startswith(SIGNATURE):
        raise DamagedImage("not a PNG file")
    chunks = list(_chunks(data))
    if not chunks or chunks[0][0] != b"IHDR" or len(chunks[0][1]) != 13:
        raise DamagedImage("no PNG header")
    if chunks[-1][0] != b"IEND":
        raise DamagedImage("truncated (no end chunk)")
    found_width, found_height, depth, colour_type, _, _, interlace = struct.unpack(">IIBBBBB", chunks[0][1])
    if (width is not None and found_width != width) or (height is not None and found_height != height):
        raise DamagedImage(f"{found_width}x{found_height} pixels, expected {width}x{height}")
    if depth == 8 and colour_type in _CHANNELS and interlace == 0:
        _check_pixel_data(chunks, found_width, found_height, _CHANNELS[colour_type])


def _chunks(data: bytes):
    """(type, payload) of each chunk, checking lengths and CRCs."""
    offset = len(SIGNATURE)
    while offset < len(data):
        if offset + 8 > len(data):
            raise DamagedImage("truncated (a chunk header is cut off)")
        length, kind = struct.unpack(">I4s", data[offset:offset + 8])
        end = offset + 8 + length + 4
        if end > len(data):
            raise DamagedImage(f"truncated (chunk {kind.decode('latin-1')!r} is cut off)")
        payload = data[offset + 8:offset + 8 + length]
        (crc,) = struct.unpack(">I", data[end - 4:end])
        if zlib.crc32(kind + payload) != crc:
            raise DamagedImage(f"chunk {kind.decode('latin-1')!r} is corrupt (CRC mismatch)")
        yield kind, payload
        if kind == b"IEND":
            return
        offset = end


def _check_pixel_data(chunks, width: int, height: int, channels: int) -> None:
    compressed = b"".join(payload for kind, payload in chunks if kind == b"IDAT")
    try:
        pixels = zlib.decompress(compressed)
    except zlib.error as err:
        raise DamagedImage(f"pixel data does not decompress ({err})") from None
    expected = height * (1 + width * channels)
    if len(pixels) != expected:
        raise DamagedImage(f"pixel data holds {len(pixels)} bytes, expected {expected}")
