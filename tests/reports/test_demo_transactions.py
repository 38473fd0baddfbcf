"""The synthetic transfer generator: deterministic, plausible, and the samples reproduce."""
from datetime import date
from pathlib import Path

from market40 import demo_transactions as gen
from market40.reconciliation import Period, ReferenceIndex

SAMPLES = Path(__file__).resolve().parents[2] / "data" / "samples" / "transactions"
END = Period(2025, 6)


def accounts():
    return gen._sample_accounts("HL1")


def test_same_seed_same_transfers_other_seed_others():
    a = list(gen.transfers(accounts(), END, END, seed=2025))
    b = list(gen.transfers(accounts(), END, END, seed=2025))
    c = list(gen.transfers(accounts(), END, END, seed=7))
    assert a == b and a != c and len(a) > 1000


def test_transfers_fall_in_the_month_after_verification():
    late = [gen.DemoAccount(1, 1, "HL1", "A-1", "HL1 A1", "970436", "0011", date(2025, 6, 20))]
    never = [gen.DemoAccount(2, 2, "HL1", "A-2", "HL1 A2", "970436", "0022", None)]
    rows = [t for t in gen.transfers(late + never, END, END, seed=1) if t.account in ("0011", "0022")]
    assert all(t.account == "0011" and date(2025, 6, 20) <= t.booked_at.date() < date(2025, 7, 1) for t in rows)


def test_contents_are_mangled_like_bank_apps_do_and_mostly_attributable():
    rows = list(gen.transfers(accounts(), END, END))
    index = ReferenceIndex((a.reference, a.stall_id) for a in accounts())
    found = [index.match(t.content).stall is not None for t in rows if t.account != gen.BOARD_ACCOUNT]
    assert 0.75 < sum(found) / len(found) < 0.95  # some customers type their own words
    assert any(t.content.startswith("MBVCB.") for t in rows) and any(t.content.islower() for t in rows)
    assert all(t.amount >= 10_000 and t.amount % 1000 == 0 for t in rows)


def test_onboarding_days_spread_over_the_year_before():
    days = [gen.onboarding_day(m, f"A-{n}", END) for m in ("HL1", "CT1", "MC1") for n in range(1, 200)]
    assert min(days) >= date(2024, 6, 1) and max(days) <= date(2025, 6, 21)  # 10 days before the end
    assert len({d.strftime("%Y-%m") for d in days}) >= 5


def test_census_drops_and_adds_a_few_households():
    stalls = [(f"A-{n}", f"Chủ hộ {n}", "operating") for n in range(1, 401)] + [("Z-1", "Đã nghỉ", "closed")]
    rows = gen.census(stalls, "HL1", END)
    codes = {r["stall_code"] for r in rows}
    assert "Z-1" not in codes and 390 <= len(codes & {s[0] for s in stalls}) < 400
    assert any(c.startswith("M-") for c in codes) and gen.census(stalls, "HL1", END) == rows


def test_committed_samples_are_reproducible(tmp_path):
    written = gen.write_samples(tmp_path)
    for path in written:
        if path.suffix == ".xlsx":  # workbooks carry their creation time
            continue
        assert path.read_bytes() == (SAMPLES / path.name).read_bytes(), path.name
    assert {p.name for p in written} == {p.name for p in SAMPLES.iterdir() if p.suffix != ".md"}
