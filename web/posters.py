"""Pictures for the owner's pages: the QR image (cached per payload) and the poster.

The poster itself is drawn by :func:`market40.services.posters.render_poster`, filled from the registry by
:func:`market40.services.posters.poster_data` (which refuses anything but a verified
current account, and audits the print) or, for the preview of what the owner is typing,
by :func:`market40.services.posters.preview_data`.
"""
from __future__ import annotations

import functools
import io
from typing import Any

from market40.services import posters as poster_service
from market40.services import qr as qr_service

__all__ = ["SIZES", "FORMATS", "qr_png", "poster_for", "preview_data", "render"]

SIZES = ("a6", "a5", "a4")
FORMATS = ("pdf", "png")
#: Resolution of downloaded PNG posters (print quality) and of previews on a phone screen.
PRINT_DPI = 300
PREVIEW_DPI = 110


@functools.lru_cache(maxsize=2048)
def qr_png(payload: str, pixels: int = 360) -> bytes:
    """The QR of ``payload`` as a PNG at most ``pixels`` wide (4-module quiet zone), cached."""
    return qr_service.png(payload, pixels=pixels)


def poster_for(registry: Any, ref: str) -> Any:
    """The poster data of a stall's verified account (audited as a print by the service)."""
    return poster_service.poster_data(registry, ref)


preview_data = poster_service.preview_data


def render(data: Any, size: str, fmt: str, *, dpi: int = PRINT_DPI) -> bytes:
    """A poster as PDF or PNG bytes."""
    out = io.BytesIO()
    poster_service.render_poster(data, out, size=size, fmt=fmt, dpi=dpi)
    return out.getvalue()
