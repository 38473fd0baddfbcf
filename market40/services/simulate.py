"""Signed bank-feed webhooks for a market's stalls, sent to a running server (demos, tests, benchmarks).

:func:`plan` picks the stalls of a market that have an account (pending or verified) and makes
transfers to them: amounts a market sees (multiples of 1,000 đồng, now and then an odd one),
contents carrying the stall reference, a fresh bank transaction id each. :func:`run` sends them
signed as the source's provider would (:func:`market40.webhooks.sign`) at a chosen rate, with
provider retries (the same body again) and duplicates (the same transfer again, a new delivery)
on request, and counts the answers. Standard library HTTP only.
"""
from __future__ import annotations

import json
import random
import threading
import time
import urllib.error
import urllib.request
import zlib
from dataclasses import dataclass, field
from datetime import datetime
from typing import Callable, Iterator

from sqlalchemy import select
from sqlmodel import Session

from .. import accounts, webhooks
from ..exceptions import NotFound, ValidationError
from ..models import Market, PaymentAccount, Stall
from ..reconciliation import VN_TZ

__all__ = ["Target", "Delivery", "SimulationReport", "targets", "transfers", "body_for", "run", "demo_payments"]


@dataclass(frozen=True)
class Target:
    stall_id: int
    ref: str  # MARKET/STALL
    reference: str  # the 62.08 reference, "" when the codes are too long
    bank_bin: str
    account: str


@dataclass
class Delivery:
    """One transfer to send: its body and how many times it goes out."""

    target: Target
    tx_id: str
    amount: int
    content: str
    sends: int = 1


@dataclass
class SimulationReport:
    transfers: int = 0
    requests: int = 0
    by_status: dict[int, int] = field(default_factory=dict)
    errors: int = 0
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list, repr=False)

    @property
    def p99_ms(self) -> float:
        """The 99th percentile of the answer times, in milliseconds (0 when nothing was answered)."""
        lat = sorted(self.latencies)
        return lat[min(len(lat) - 1, int(len(lat) * 0.99))] * 1000 if lat else 0.0

    def summary(self) -> str:
        p99 = self.p99_ms
        statuses = ", ".join(f"{k}: {v}" for k, v in sorted(self.by_status.items())) or "none"
        return (f"{self.transfers} transfers in {self.requests} requests over {self.seconds:.1f} s "
                f"(answers {statuses}; {self.errors} network errors; p99 answer {p99:.0f} ms)")


def targets(session: Session, market_code: str, *, stall: str | None = None) -> list[Target]:
    """The stalls of a market that can be paid (a pending or verified account), or the one named."""
    market = session.execute(select(Market).where(Market.code == market_code.strip().upper())).scalar()
    if market is None:
        raise NotFound(f"market {market_code!r}: not found")
    query = select(Stall.id, Stall.code, PaymentAccount.bin, PaymentAccount.number).join(
        PaymentAccount, PaymentAccount.stall_id == Stall.id).where(
        Stall.market_id == market.id, PaymentAccount.status.in_(("pending", "verified")),  # type: ignore[union-attr]
        Stall.status == "operating")
    if stall:
        query = query.where(Stall.code == stall)
    out = []
    for stall_id, code, bin_, number in session.execute(query.order_by(Stall.code)).all():
        try:
            reference = accounts.stall_reference(market.code, code)
        except ValidationError:
            reference = ""
        out.append(Target(stall_id, f"{market.code}/{code}", reference, bin_, number))
    if not out:
        raise NotFound(f"market {market.code}: no stall with an account to pay into")
    return out


_AMOUNTS = (5_000, 10_000, 15_000, 20_000, 25_000, 30_000, 35_000, 45_000, 50_000, 60_000, 75_000, 100_000,
            120_000, 150_000, 200_000, 250_000, 350_000, 500_000, 1_500_000)


def transfers(chosen: list[Target], count: int, *, seed: int | None = None, retries: int = 0,
              duplicates: float = 0.0, prefix: str | None = None) -> Iterator[Delivery]:
    """``count`` transfers spread over ``chosen``; ``retries`` extra sends of each; a share sent twice."""
    rng = random.Random(seed)
    prefix = prefix or f"SIM{int(time.time())}"
    for n in range(count):
        target = chosen[rng.randrange(len(chosen))]
        amount = rng.choice(_AMOUNTS) if rng.random() > 0.05 else rng.randrange(1_000, 99_999)
        words = rng.choice(("", "mua ca", "tien rau", "ck", "thanh toan"))
        content = f"{target.reference} {words}".strip() if target.reference else (words or "ck")
        sends = 1 + retries + (1 if rng.random() < duplicates else 0)
        yield Delivery(target, f"{prefix}-{n:06d}", amount, content, sends)


def body_for(source: webhooks.Source, delivery: Delivery, *, now: datetime | None = None) -> bytes:
    """The body the source's provider would send for the transfer (no payer data)."""
    booked = (now or datetime.now(VN_TZ)).strftime("%Y-%m-%d %H:%M:%S")
    t = delivery.target
    if source.provider == "sepay":
        from .. import banks
        return json.dumps({"id": zlib.crc32(delivery.tx_id.encode()), "gateway": banks.by_bin(t.bank_bin).short_name,
                           "transactionDate": booked, "accountNumber": t.account, "code": None,
                           "content": delivery.content, "transferType": "in", "transferAmount": delivery.amount,
                           "accumulated": 0, "subAccount": None, "referenceCode": delivery.tx_id,
                           "description": delivery.content}, ensure_ascii=False).encode()
    if source.provider == "casso":
        from .. import banks
        return json.dumps({"error": 0, "data": {
            "id": zlib.crc32(delivery.tx_id.encode()), "reference": delivery.tx_id, "description": delivery.content,
            "amount": delivery.amount, "runningBalance": 0, "transactionDateTime": booked, "accountNumber": t.account,
            "bankName": banks.by_bin(t.bank_bin).short_name, "bankAbbreviation": banks.by_bin(t.bank_bin).code,
            "virtualAccountNumber": "", "virtualAccountName": ""}}, ensure_ascii=False).encode()
    if source.provider == "payos":
        return webhooks.sign_payos(source, {
            "orderCode": zlib.crc32(delivery.tx_id.encode()), "amount": delivery.amount, "description": delivery.content,
            "accountNumber": t.account, "reference": delivery.tx_id, "transactionDateTime": booked,
            "currency": "VND", "paymentLinkId": "", "code": "00", "desc": "success"})
    return json.dumps({"bank_bin": t.bank_bin, "account": t.account, "tx_id": delivery.tx_id,
                       "amount": delivery.amount, "booked_at": booked, "content": delivery.content},
                      ensure_ascii=False).encode()


def _post(url: str, body: bytes, headers: dict[str, str], timeout: float) -> int:
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            response.read()
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def run(base_url: str, source: webhooks.Source, deliveries: Iterator[Delivery], *, rate: float,
        threads: int = 8, timeout: float = 10.0, stop: threading.Event | None = None,
        on_sent: Callable[[Delivery, int, float], None] | None = None) -> SimulationReport:
    """Send ``deliveries`` to ``base_url/hook/<source>`` at ``rate`` requests per second."""
    url = base_url.rstrip("/") + f"/hook/{source.name}"
    report = SimulationReport()
    lock = threading.Lock()
    jobs: list[tuple[Delivery, int]] = []
    for delivery in deliveries:
        report.transfers += 1
        for attempt in range(delivery.sends):
            jobs.append((delivery, attempt))
    started = time.monotonic()
    interval = 1.0 / rate if rate > 0 else 0.0
    index = {"next": 0}

    def worker() -> None:
        while not (stop and stop.is_set()):
            with lock:
                n = index["next"]
                if n >= len(jobs):
                    return
                index["next"] = n + 1
            due = started + n * interval
            wait = due - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            delivery, attempt = jobs[n]
            body = body_for(source, delivery)
            sent = time.monotonic()
            try:
                status = _post(url, body, webhooks.sign(source, body), timeout)
            except OSError:
                with lock:
                    report.errors += 1
                    report.requests += 1
                continue
            took = time.monotonic() - sent
            with lock:
                report.requests += 1
                report.by_status[status] = report.by_status.get(status, 0) + 1
                report.latencies.append(took)
            if on_sent:
                on_sent(delivery, status, took)

    pool = [threading.Thread(target=worker, daemon=True) for _ in range(max(1, threads))]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    report.seconds = time.monotonic() - started
    return report


def demo_payments(base_url: str, source: webhooks.Source, chosen: list[Target], featured: Target | None, *,
                  stop: threading.Event, every: float = 8.0, seed: int | None = None) -> None:
    """Live payments for ``market40 serve --demo``: ``featured`` (the demo owner's stall) is paid about
    every ``every`` seconds, now and then short of a round amount or twice (a provider retry); the
    other stalls meanwhile. Runs until ``stop`` is set."""
    rng = random.Random(seed)
    url = base_url.rstrip("/") + f"/hook/{source.name}"
    n = 0
    while not stop.wait(rng.uniform(0.5, 1.5) if n % 4 else 0.5):
        n += 1
        pick = featured if featured is not None and n % max(1, round(every)) == 1 else rng.choice(chosen)
        delivery = next(transfers([pick], 1, seed=rng.random(), retries=1 if rng.random() < 0.1 else 0,
                                  prefix=f"DEMO{int(time.time())}-{n}"))
        for _ in range(delivery.sends):
            body = body_for(source, delivery)
            try:
                _post(url, body, webhooks.sign(source, body), 5.0)
            except OSError:
                pass  # the server is restarting or stopping: the next one will go through
