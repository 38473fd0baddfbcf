"""Canonical stall keys (one stall per key and market) and dated history in the audit trail.

Revision ID: 0004
Revises: 0002
Create Date: 2026-11-30

* ``stall.code_key``: the stall code's letters and digits, upper-case (``A-12``, ``A12`` and
  ``a 12`` all give ``A12``), unique per market. The backfill computes it for every stall.
  A registry that already holds twins (two stalls of one market with the same key) is not
  refused: the oldest stall of each group keeps the canonical key, the others get a
  provisional one (``A12~57``, with their id) so the constraint holds, each group is written
  to the audit trail (``stall.twins``) and listed on stderr, and staff resolve them with
  ``market40 stall twins`` and ``market40 stall merge`` (or ``stall remove``).
* ``audit_event.effective_at``: when a change happened, when staff dated it (``--at``, the
  date columns of a board's list); ``at`` stays the time it was recorded.

The key rule is copied here (not imported) so that this migration keeps doing what it did
when it shipped: it is :func:`market40.accounts.stall_key` as of this revision.
"""
import json
import re
import sys
import unicodedata
from datetime import datetime, timezone
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0004"
down_revision: Union[str, Sequence[str], None] = "0002"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

KEY_LENGTH = 32


def _key(code: str) -> str:
    text = unicodedata.normalize("NFD", (code or "").replace("đ", "d").replace("Đ", "D"))
    text = "".join(c for c in text if not unicodedata.combining(c))
    return re.sub(r"[^0-9A-Z]", "", text.upper())


def _provisional(key: str, stall_id: int) -> str:
    suffix = f"~{stall_id}"
    return key[:KEY_LENGTH - len(suffix)] + suffix


def upgrade() -> None:
    with op.batch_alter_table("audit_event") as batch:
        batch.add_column(sa.Column("effective_at", sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table("stall") as batch:
        batch.add_column(sa.Column("code_key", sa.String(length=KEY_LENGTH), nullable=True))

    connection = op.get_bind()
    stall = sa.table("stall", sa.column("id", sa.Integer), sa.column("market_id", sa.Integer),
                     sa.column("code", sa.String), sa.column("code_key", sa.String))
    market = sa.table("market", sa.column("id", sa.Integer), sa.column("code", sa.String))
    groups: dict[tuple[int, str], list[tuple[int, str]]] = {}
    for stall_id, market_id, code in connection.execute(
            sa.select(stall.c.id, stall.c.market_id, stall.c.code).order_by(stall.c.id)):
        groups.setdefault((market_id, _key(code)), []).append((stall_id, code))
    updates = []
    twins = []
    for (market_id, key), members in groups.items():
        updates.append({"sid": members[0][0], "k": key})
        for stall_id, _ in members[1:]:
            updates.append({"sid": stall_id, "k": _provisional(key, stall_id)})
        if len(members) > 1:
            twins.append((market_id, key, members))
    if updates:
        connection.execute(stall.update().where(stall.c.id == sa.bindparam("sid"))
                           .values(code_key=sa.bindparam("k")), updates)
    if twins:
        codes = dict(connection.execute(sa.select(market.c.id, market.c.code)).all())
        audit = sa.table("audit_event", sa.column("at", sa.DateTime(timezone=True)), sa.column("actor", sa.String),
                         sa.column("action", sa.String), sa.column("entity", sa.String),
                         sa.column("entity_id", sa.String), sa.column("after", sa.Text),
                         sa.column("note", sa.Text))
        now = datetime.now(timezone.utc)
        if connection.dialect.name == "sqlite":  # as market40.models.UTCDateTime stores it
            now = now.replace(tzinfo=None)
        lines = []
        for market_id, key, members in twins:
            refs = [f"{codes.get(market_id, market_id)}/{code}" for _, code in members]
            lines.append(f"  {codes.get(market_id, market_id)} {key}: {', '.join(refs)}")
            connection.execute(audit.insert().values(
                at=now, actor="migration:0004", action="stall.twins", entity="stall", entity_id=str(members[0][0]),
                after=json.dumps({"key": key, "stalls": [{"id": i, "code": c} for i, c in members]},
                                 ensure_ascii=False),
                note="stall codes that differ only by case, spaces or punctuation: merge them"))
        sys.stderr.write(
            f"market40 migration 0004: {len(twins)} groups of stalls are the same stall written differently "
            "(only case, spaces or punctuation differ). The oldest of each keeps its code; list them with "
            "`market40 stall twins` and merge each into the right one with `market40 stall merge MARKET/FROM "
            "MARKET/INTO`:\n" + "\n".join(lines) + "\n")

    with op.batch_alter_table("stall") as batch:
        batch.alter_column("code_key", existing_type=sa.String(length=KEY_LENGTH), nullable=False)
        batch.create_unique_constraint(op.f("uq_stall_market_id_code_key"), ["market_id", "code_key"])


def downgrade() -> None:
    with op.batch_alter_table("stall") as batch:
        batch.drop_constraint(op.f("uq_stall_market_id_code_key"), type_="unique")
        batch.drop_column("code_key")
    with op.batch_alter_table("audit_event") as batch:
        batch.drop_column("effective_at")
