"""Pictures for the owner's pages: the QR image (cached per payload) and the poster.

The poster itself is :mod:`market40.posters`, filled from the registry by
:func:`market40.services.posters.poster_data` (which refuses anything but a verified
current account, and audits the print). Both are imported lazily: if they are missing
the pages still show the QR, and the downloads answer 404 instead of breaking the app.
"""
from __future__ import annotations

import functools
import io
from datetime import date
from typing import Any

from market40 import banks, qrimage

__all__ = ["SIZES", "FORMATS", "available", "qr_png", "poster_for", "preview_data", "render"]

SIZES = ("a6", "a5", "a4")
FORMATS = ("pdf", "png")
#: Resolution of downloaded PNG posters (print quality) and of previews on a phone screen.
PRINT_DPI = 300
PREVIEW_DPI = 110
PREVIEW_SERIAL = "XEM-TRUOC"


def available() -> bool:
    """Whether posters can be drawn here (the poster modules are installed)."""
    try:
        from market40 import posters  # noqa: F401
        from market40.services import posters as poster_service  # noqa: F401
    except ImportError:
        return False
    return True


@functools.lru_cache(maxsize=2048)
def qr_png(payload: str, pixels: int = 360) -> bytes:
    """The QR of ``payload`` as a PNG at most ``pixels`` wide (4-module quiet zone), cached."""
    out = io.BytesIO()
    qrimage.write(payload, out, kind="png", pixels=pixels)
    return out.getvalue()


def poster_for(registry: Any, ref: str) -> Any:
    """The poster data of a stall's verified account (audited as a print by the service)."""
    from market40.services import posters as poster_service
    return poster_service.poster_data(registry, ref)


def preview_data(prepared: dict[str, Any], *, market_name: str, stall_code: str, shop_name: str) -> Any:
    """Poster data for an account that is not registered yet (the owner's own typing)."""
    from market40 import posters
    bank = banks.by_bin(prepared["bin"])
    return posters.PosterData(
        payload=prepared["payload"], holder_name=prepared["holder_name"],
        bank_short_name=bank.short_name if bank else prepared["bin"],
        bank_name=bank.name if bank else f"BIN {prepared['bin']}", account_number=prepared["number"],
        stall_code=stall_code, shop_name=shop_name, market_name=market_name, serial=PREVIEW_SERIAL,
        printed_on=date.today(), is_card=prepared["kind"] == "card", is_ewallet=prepared["kind"] == "ewallet")


def render(data: Any, size: str, fmt: str, *, dpi: int = PRINT_DPI) -> bytes:
    """A poster as PDF or PNG bytes."""
    from market40 import posters
    out = io.BytesIO()
    if fmt == "pdf":
        posters.render_pdf(data, out, size=size)
    else:
        posters.render_png(data, out, size=size, dpi=dpi)
    return out.getvalue()
