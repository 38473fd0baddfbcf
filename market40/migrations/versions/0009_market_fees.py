"""Market fees: the board's collection account, tariffs, stall areas and readings, bills, payments;
the ``board`` role (ban quản lý chợ).

Revision ID: 0009
Revises: 0008

Same conventions as 0001: plain SQLAlchemy types, every constraint and index named; batch mode
for SQLite when the role check of ``app_user`` changes.
"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0009"
down_revision: Union[str, Sequence[str], None] = "0008"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

OLD_ROLES = "'owner', 'staff', 'officer', 'admin'"
NEW_ROLES = OLD_ROLES + ", 'board'"


def _roles(roles: str) -> None:
    with op.batch_alter_table("app_user") as batch:
        batch.drop_constraint(op.f("ck_app_user_role"), type_="check")
        batch.create_check_constraint(op.f("ck_app_user_role"), f"role IN ({roles})")


def _when(name: str, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    _roles(NEW_ROLES)
    op.create_table(
        "fee_account",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("market_id", sa.Integer(), nullable=False),
        sa.Column("bin", sa.String(length=6), nullable=False),
        sa.Column("number", sa.String(length=19), nullable=False),
        sa.Column("holder_name", sa.String(length=100), nullable=False),
        sa.Column("board_name", sa.String(length=200), nullable=False),
        _when("updated_at"),
        sa.Column("updated_by", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_fee_account")),
        sa.ForeignKeyConstraint(["market_id"], ["market.id"], ondelete="CASCADE",
                                name=op.f("fk_fee_account_market_id_market")),
        sa.UniqueConstraint("market_id", name=op.f("uq_fee_account_market_id")),
    )
    op.create_table(
        "fee_tariff",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=16), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("unit", sa.String(length=32), nullable=False),
        sa.Column("unit_price", sa.BigInteger(), nullable=False),
        sa.Column("tier", sa.String(length=32), nullable=True),
        sa.Column("position_class", sa.String(length=32), nullable=True),
        sa.Column("source", sa.String(length=300), nullable=False),
        sa.Column("valid_from", sa.Date(), nullable=False),
        sa.Column("valid_to", sa.Date(), nullable=True),
        _when("imported_at"),
        sa.Column("imported_by", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_fee_tariff")),
        sa.UniqueConstraint("code", "tier", "position_class", "valid_from",
                            name=op.f("uq_fee_tariff_code_tier_position_class_valid_from")),
        sa.CheckConstraint("kind IN ('rent', 'fixed', 'metered', 'entry')", name=op.f("ck_fee_tariff_kind")),
        sa.CheckConstraint("unit_price > 0", name=op.f("ck_fee_tariff_price")),
        sa.CheckConstraint("valid_to IS NULL OR valid_to > valid_from", name=op.f("ck_fee_tariff_validity")),
    )
    op.create_table(
        "fee_stall",
        sa.Column("stall_id", sa.Integer(), nullable=False),
        sa.Column("area_cm2", sa.Integer(), nullable=True),
        sa.Column("position_class", sa.String(length=32), nullable=True),
        _when("updated_at"),
        sa.PrimaryKeyConstraint("stall_id", name=op.f("pk_fee_stall")),
        sa.ForeignKeyConstraint(["stall_id"], ["stall.id"], ondelete="CASCADE",
                                name=op.f("fk_fee_stall_stall_id_stall")),
        sa.CheckConstraint("area_cm2 IS NULL OR area_cm2 > 0", name=op.f("ck_fee_stall_area")),
    )
    op.create_table(
        "fee_reading",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("stall_id", sa.Integer(), nullable=False),
        sa.Column("period", sa.String(length=7), nullable=False),
        sa.Column("code", sa.String(length=16), nullable=False),
        sa.Column("previous", sa.BigInteger(), nullable=True),
        sa.Column("current", sa.BigInteger(), nullable=True),
        sa.Column("quantity", sa.BigInteger(), nullable=False),
        _when("updated_at"),
        sa.Column("updated_by", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_fee_reading")),
        sa.ForeignKeyConstraint(["stall_id"], ["stall.id"], ondelete="CASCADE",
                                name=op.f("fk_fee_reading_stall_id_stall")),
        sa.UniqueConstraint("stall_id", "period", "code", name=op.f("uq_fee_reading_stall_id_period_code")),
        sa.CheckConstraint("length(period) = 7", name=op.f("ck_fee_reading_period")),
        sa.CheckConstraint("quantity >= 0", name=op.f("ck_fee_reading_quantity")),
    )
    op.create_table(
        "fee_bill",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("number", sa.String(length=25), nullable=False),
        sa.Column("market_id", sa.Integer(), nullable=False),
        sa.Column("stall_id", sa.Integer(), nullable=False),
        sa.Column("period", sa.String(length=7), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("reference", sa.String(length=25), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("lines", sa.Text(), nullable=False),
        sa.Column("due_date", sa.Date(), nullable=False),
        sa.Column("payload", sa.String(length=512), nullable=True),
        _when("issued_at"),
        sa.Column("issued_by", sa.String(length=64), nullable=False),
        sa.Column("receipt_serial", sa.String(length=32), nullable=True),
        _when("paid_at", nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_fee_bill")),
        sa.ForeignKeyConstraint(["market_id"], ["market.id"], ondelete="CASCADE",
                                name=op.f("fk_fee_bill_market_id_market")),
        sa.ForeignKeyConstraint(["stall_id"], ["stall.id"], ondelete="CASCADE",
                                name=op.f("fk_fee_bill_stall_id_stall")),
        sa.UniqueConstraint("number", name=op.f("uq_fee_bill_number")),
        sa.UniqueConstraint("stall_id", "period", "version", name=op.f("uq_fee_bill_stall_id_period_version")),
        sa.UniqueConstraint("receipt_serial", name=op.f("uq_fee_bill_receipt_serial")),
        sa.CheckConstraint("length(period) = 7", name=op.f("ck_fee_bill_period")),
    )
    op.create_index("ix_fee_bill_market_period", "fee_bill", ["market_id", "period"])
    op.create_index(op.f("ix_fee_bill_stall_id"), "fee_bill", ["stall_id"])
    op.create_index(op.f("ix_fee_bill_reference"), "fee_bill", ["reference"])
    op.create_table(
        "fee_payment",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("bill_id", sa.Integer(), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("method", sa.String(length=16), nullable=False),
        sa.Column("tx_key", sa.String(length=96), nullable=False),
        _when("paid_at"),
        sa.Column("channel", sa.String(length=16), nullable=True),
        sa.Column("content", sa.String(length=300), nullable=True),
        sa.Column("note", sa.String(length=500), nullable=True),
        _when("recorded_at"),
        sa.Column("recorded_by", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_fee_payment")),
        sa.ForeignKeyConstraint(["bill_id"], ["fee_bill.id"], ondelete="CASCADE",
                                name=op.f("fk_fee_payment_bill_id_fee_bill")),
        sa.UniqueConstraint("bill_id", "tx_key", name=op.f("uq_fee_payment_bill_id_tx_key")),
        sa.CheckConstraint("method IN ('reference', 'amount', 'cash', 'split')",
                           name=op.f("ck_fee_payment_method")),
        sa.CheckConstraint("amount > 0", name=op.f("ck_fee_payment_amount")),
    )
    op.create_index(op.f("ix_fee_payment_bill_id"), "fee_payment", ["bill_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_fee_payment_bill_id"), table_name="fee_payment")
    op.drop_table("fee_payment")
    op.drop_index(op.f("ix_fee_bill_reference"), table_name="fee_bill")
    op.drop_index(op.f("ix_fee_bill_stall_id"), table_name="fee_bill")
    op.drop_index("ix_fee_bill_market_period", table_name="fee_bill")
    op.drop_table("fee_bill")
    op.drop_table("fee_reading")
    op.drop_table("fee_stall")
    op.drop_table("fee_tariff")
    op.drop_table("fee_account")
    op.execute("DELETE FROM app_user WHERE role = 'board'")
    _roles(OLD_ROLES)
