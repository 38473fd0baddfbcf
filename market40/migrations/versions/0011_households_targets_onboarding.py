"""Households, provincial targets and market onboarding dates.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02

* ``stall.owner_tax_code`` (the owner's tax or business registration code, when known) and
  ``stall.household_key`` (indexed): the stalls of one business household share the key, so
  that adoption is reported per household as well as per stall. The backfill computes the key
  for every stall with the rule of :func:`market40.households.household_key` as of this
  revision (copied here, not imported): tax code, else phone + name, else none.
* ``census_entry.household_key``: a census line's household, when the census gives it.
* ``payment_account.bank_branch``: the branch named with the bank ("BIDV - CN Hạ Long"), a note.
* ``market.onboarded_on``: the day the programme started in a market; reports leave the
  market out of earlier months.
* ``adoption_target``: the share of households each province plans to reach (one row per
  province), shown on the dashboard and in every report.
"""
import hashlib
import re
import unicodedata
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0011"
down_revision: Union[str, Sequence[str], None] = "0010"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def _fold(text: str) -> str:
    text = unicodedata.normalize("NFD", text.replace("đ", "d").replace("Đ", "D"))
    text = "".join(c for c in text if not unicodedata.combining(c))
    return " ".join(re.sub(r"[^0-9a-z]+", " ", text.lower()).split())


def _key(tax: str | None, phone: str | None, name: str | None) -> str | None:
    code = re.sub(r"[\s.\-/]", "", tax or "").upper()
    if re.fullmatch(r"[0-9A-Z]{6,20}", code):
        return "mst:" + hashlib.sha256(code.encode("utf-8")).hexdigest()[:32]
    digits = re.sub(r"[\s.()-]", "", phone or "")
    if digits.startswith("+84"):
        digits = "0" + digits[3:]
    elif digits.startswith("84") and len(digits) in (11, 12):
        digits = "0" + digits[2:]
    folded = _fold(name or "")
    if not re.fullmatch(r"0[0-9]{9,10}", digits) or not folded:
        return None
    return "tel:" + hashlib.sha256(f"{digits}:{folded}".encode("utf-8")).hexdigest()[:32]


def upgrade() -> None:
    with op.batch_alter_table("stall") as batch:
        batch.add_column(sa.Column("owner_tax_code", sa.String(length=20), nullable=True))
        batch.add_column(sa.Column("household_key", sa.String(length=120), nullable=True))
        batch.create_index(batch.f("ix_stall_household_key"), ["household_key"], unique=False)
    with op.batch_alter_table("census_entry") as batch:
        batch.add_column(sa.Column("household_key", sa.String(length=120), nullable=True))
    with op.batch_alter_table("payment_account") as batch:
        batch.add_column(sa.Column("bank_branch", sa.String(length=120), nullable=True))
    with op.batch_alter_table("market") as batch:
        batch.add_column(sa.Column("onboarded_on", sa.Date(), nullable=True))
    op.create_table(
        "adoption_target",
        sa.Column("province", sa.String(length=120), nullable=False),
        sa.Column("target", sa.Float(), nullable=False),
        sa.Column("source", sa.String(length=200), nullable=True),
        sa.Column("set_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("set_by", sa.String(length=64), nullable=False),
        sa.CheckConstraint("target > 0 AND target <= 1", name=op.f("ck_adoption_target_target")),
        sa.PrimaryKeyConstraint("province", name=op.f("pk_adoption_target")),
    )
    connection = op.get_bind()
    stall = sa.table("stall", sa.column("id", sa.Integer), sa.column("owner_phone", sa.String),
                     sa.column("owner_name", sa.String), sa.column("household_key", sa.String))
    updates = [{"sid": sid, "k": key} for sid, phone, name in connection.execute(
        sa.select(stall.c.id, stall.c.owner_phone, stall.c.owner_name))
        if (key := _key(None, phone, name)) is not None]
    if updates:
        connection.execute(stall.update().where(stall.c.id == sa.bindparam("sid"))
                           .values(household_key=sa.bindparam("k")), updates)


def downgrade() -> None:
    op.drop_table("adoption_target")
    with op.batch_alter_table("market") as batch:
        batch.drop_column("onboarded_on")
    with op.batch_alter_table("census_entry") as batch:
        batch.drop_column("household_key")
    with op.batch_alter_table("payment_account") as batch:
        batch.drop_column("bank_branch")
    with op.batch_alter_table("stall") as batch:
        batch.drop_index(batch.f("ix_stall_household_key"))
        batch.drop_column("household_key")
        batch.drop_column("owner_tax_code")
