"""`market40 poster`: languages (--lang, --english) and --workers, on SQLite and PostgreSQL."""
from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

import cli
from market40 import posters, qrimage
from market40.services.registry import Actor, Registry


@pytest.fixture
def run(session, stall, engine, monkeypatch, tmp_path):
    registry = Registry(session, Actor.operator("staff"))
    registry.register_account("HL1/A-12", bank="vietcombank", number="8086205182190", holder_name="Nguyễn Thị Lan")
    registry.verify_account("HL1/A-12")
    registry.save_stall("HL1", code="A-13", owner_name="Trần Văn Bình", shop_name="Rau Bình")
    registry.register_account("HL1/A-13", bank="MB", number="0912345678", holder_name="Tran Van Binh")
    registry.verify_account("HL1/A-13")
    session.commit()
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MARKET40_SECRET_KEY", "test-secret-key-of-enough-length")
    monkeypatch.delenv("MARKET40_DATABASE_URL", raising=False)
    url = engine.url.render_as_string(hide_password=False)
    runner = CliRunner()

    def invoke(*args: str) -> Any:
        return runner.invoke(cli.main, ["--db", url, *args], catch_exceptions=False)
    return invoke


def _rasterise(pdf: Path, tmp_path: Path) -> list[Path]:
    if shutil.which("pdftoppm") is None:
        pytest.skip("pdftoppm not installed (apt-get install poppler-utils)")
    subprocess.run(["pdftoppm", "-r", "150", "-gray", "-png", str(pdf), str(tmp_path / "page")], check=True)
    return sorted(tmp_path.glob("page-*.png"))


def test_market_sheet_in_three_languages_with_two_workers(run, tmp_path, monkeypatch):
    calls: list[dict[str, Any]] = []
    real = posters.render_sheet_pdf

    def spy(items: Any, out: Any, **kwargs: Any) -> None:
        calls.append(kwargs)
        real(items, out, **kwargs)
    monkeypatch.setattr(posters, "render_sheet_pdf", spy)
    result = run("poster", "--market", "HL1", "-o", "hl1.pdf", "--lang", "vi,en,zh", "--workers", "2")
    assert result.exit_code == 0, result.output
    assert "2 posters written" in result.output
    assert calls[0]["workers"] == 2 and calls[0]["langs"] == ("vi", "en", "zh")
    pdf = (tmp_path / "hl1.pdf").read_bytes()
    assert re.search(rb"/FontName /[A-Z]{6}\+NotoSansSC", pdf)
    (page,) = _rasterise(tmp_path / "hl1.pdf", tmp_path)
    assert len(qrimage.read(page)) == 2


def test_one_stall_lang_and_the_english_alias(run, tmp_path):
    assert run("poster", "--stall", "HL1/A-12", "-o", "en.pdf", "--english").exit_code == 0
    assert run("poster", "--stall", "HL1/A-12", "-o", "vien.pdf", "--lang", "vi,en").exit_code == 0
    assert run("poster", "--stall", "HL1/A-12", "-o", "zh.png", "--lang", "zh").exit_code == 0
    strip = re.compile(rb"/(?:CreationDate|ModDate) \(D:[^)]*\)|/ID \[<[0-9a-f]+><[0-9a-f]+>\]", re.I)
    english, vi_en = ((tmp_path / name).read_bytes() for name in ("en.pdf", "vien.pdf"))
    assert len(strip.sub(b"", english)) == len(strip.sub(b"", vi_en)) and b"NotoSansSC" not in english
    assert qrimage.read(tmp_path / "zh.png")  # the Chinese PNG scans


def test_bad_lang_and_workers_are_refused(run, tmp_path):
    result = run("poster", "--stall", "HL1/A-12", "-o", "x.pdf", "--lang", "vi,fr")
    assert result.exit_code != 0 and "lang" in result.output and "vi, en, zh" in result.output
    assert not (tmp_path / "x.pdf").exists()
    result = run("poster", "--market", "HL1", "-o", "x.pdf", "--workers", "0")
    assert result.exit_code == 2 and "--workers" in result.output
