"""QR codes from image files (zxing-cpp), and the card number a scanned text names.

A card's QR code holds a URL ending in its ESCN (``https://s.esc-r.eu/<ESCN>``, older cards
``http://esc.gg/<ESCN>``, the sandbox ``http://pp.esc.gg/<ESCN>``, escrouter's own
``https://<router>/cards/<ESCN>``) or the bare number.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from urllib.parse import urlsplit


class NoQrCode(Exception):
    """The image holds no readable QR code."""


def decode_qr(path: Path) -> str:
    """The text of the QR code in an image file (the first one, if there are several)."""
    try:
        import zxingcpp
    except ImportError as error:
        raise NoQrCode("zxing-cpp is not installed: pip install 'escrouter[reader]'") from error
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as image:
            barcodes = zxingcpp.read_barcodes(image.convert("L"))
    except (OSError, UnidentifiedImageError) as error:
        raise NoQrCode(f"{path} is not a readable image: {error}") from error
    texts = [b.text for b in barcodes if b.format == zxingcpp.BarcodeFormat.QRCode and b.text]
    if not texts:
        raise NoQrCode(f"no QR code found in {path}")
    return texts[0]


def escn_of_scan(text: str) -> str | None:
    """The card number a scanned text names (lower case), or None."""
    candidate = text.strip()
    if "://" in candidate:
        candidate = urlsplit(candidate).path.rstrip("/").rsplit("/", 1)[-1]
    try:
        parsed = uuid.UUID(candidate)
    except ValueError:
        return None
    return str(parsed) if parsed.version == 1 else None
