"""Small valid PNG images for upload tests, from the standard library (no Pillow)."""

from __future__ import annotations

import struct
import zlib
from typing import Tuple


def png_bytes(width: int = 8, height: int = 8, rgb: Tuple[int, int, int] = (200, 40, 40)) -> bytes:
    """A solid-colour RGB PNG; different colours give different bytes (and so different predictions)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    row = b"\x00" + bytes(rgb) * width  # filter type 0, then the pixels
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # 8-bit RGB
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(row * height)) + chunk(b"IEND", b"")
