"""Census and reconciliation: census_entry, reconcile_run, stall_period, reconcile_anomaly.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22

The market boards' censuses (the denominator of adoption) and the results of each
reconciliation (per stall and period, with evidence; anomalies; run totals). The
transfers themselves are in the DuckDB transaction store, not here. Same
conventions as 0001: plain SQLAlchemy types, every constraint and index named.
"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0002"
down_revision: Union[str, Sequence[str], None] = "0001"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

ANOMALY_KINDS = ("'shared_account', 'closed_stall_live_qr', 'not_in_census_live_qr', 'name_mismatch', "
                 "'unknown_account', 'idle_account', 'unattributed'")


def upgrade() -> None:
    op.create_table(
        "census_entry",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("market_id", sa.Integer(), nullable=False),
        sa.Column("period", sa.String(length=7), nullable=False),
        sa.Column("stall_code", sa.String(length=32), nullable=False),
        sa.Column("stall_key", sa.String(length=32), nullable=False),
        sa.Column("owner_name", sa.String(length=200), nullable=False),
        sa.Column("source", sa.String(length=200), nullable=False),
        sa.Column("imported_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("imported_by", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_census_entry")),
        sa.UniqueConstraint("market_id", "period", "stall_key", name=op.f("uq_census_entry_market_id_period_stall_key")),
        sa.CheckConstraint("length(period) = 7", name=op.f("ck_census_entry_period")),
        sa.ForeignKeyConstraint(["market_id"], ["market.id"], ondelete="CASCADE",
                                name=op.f("fk_census_entry_market_id_market")),
    )

    op.create_table(
        "reconcile_run",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("period", sa.String(length=7), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("snapshot_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("idle_months", sa.Integer(), nullable=False),
        sa.Column("markets", sa.Integer(), nullable=False),
        sa.Column("stalls", sa.Integer(), nullable=False),
        sa.Column("transfers", sa.Integer(), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("by_account", sa.Integer(), nullable=False),
        sa.Column("by_reference", sa.Integer(), nullable=False),
        sa.Column("unattributed", sa.Integer(), nullable=False),
        sa.Column("banks", sa.String(length=500), nullable=True),
        sa.Column("summary", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reconcile_run")),
        sa.CheckConstraint("length(period) = 7", name=op.f("ck_reconcile_run_period")),
    )
    op.create_index(op.f("ix_reconcile_run_period"), "reconcile_run", ["period"])

    op.create_table(
        "stall_period",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("period", sa.String(length=7), nullable=False),
        sa.Column("market_id", sa.Integer(), nullable=False),
        sa.Column("stall_id", sa.Integer(), nullable=True),
        sa.Column("stall_code", sa.String(length=32), nullable=False),
        sa.Column("stall_key", sa.String(length=32), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("accepting", sa.Boolean(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("in_census", sa.Boolean(), nullable=False),
        sa.Column("counted", sa.Boolean(), nullable=False),
        sa.Column("covered", sa.Boolean(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=True),
        sa.Column("account_status", sa.String(length=16), nullable=True),
        sa.Column("verified_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("transfers", sa.Integer(), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("by_reference", sa.Integer(), nullable=False),
        sa.Column("first_transfer_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_transfer_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("channels", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stall_period")),
        sa.UniqueConstraint("period", "market_id", "stall_key", name=op.f("uq_stall_period_period_market_id_stall_key")),
        sa.CheckConstraint("state IN ('no_qr', 'registered', 'accepting', 'active')",
                           name=op.f("ck_stall_period_state")),
        sa.CheckConstraint("length(period) = 7", name=op.f("ck_stall_period_period")),
        sa.ForeignKeyConstraint(["run_id"], ["reconcile_run.id"], ondelete="CASCADE",
                                name=op.f("fk_stall_period_run_id_reconcile_run")),
        sa.ForeignKeyConstraint(["market_id"], ["market.id"], ondelete="CASCADE",
                                name=op.f("fk_stall_period_market_id_market")),
        sa.ForeignKeyConstraint(["stall_id"], ["stall.id"], ondelete="SET NULL",
                                name=op.f("fk_stall_period_stall_id_stall")),
        sa.ForeignKeyConstraint(["account_id"], ["payment_account.id"], ondelete="SET NULL",
                                name=op.f("fk_stall_period_account_id_payment_account")),
    )
    op.create_index(op.f("ix_stall_period_run_id"), "stall_period", ["run_id"])
    op.create_index(op.f("ix_stall_period_stall_id"), "stall_period", ["stall_id"])
    op.create_index(op.f("ix_stall_period_market_period"), "stall_period", ["market_id", "period"])

    op.create_table(
        "reconcile_anomaly",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("period", sa.String(length=7), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("market_id", sa.Integer(), nullable=True),
        sa.Column("stall_id", sa.Integer(), nullable=True),
        sa.Column("stall_code", sa.String(length=32), nullable=True),
        sa.Column("account", sa.String(length=32), nullable=True),
        sa.Column("bank_bin", sa.String(length=6), nullable=True),
        sa.Column("detail", sa.String(length=500), nullable=False),
        sa.Column("transfers", sa.Integer(), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reconcile_anomaly")),
        sa.CheckConstraint(f"kind IN ({ANOMALY_KINDS})", name=op.f("ck_reconcile_anomaly_kind")),
        sa.ForeignKeyConstraint(["run_id"], ["reconcile_run.id"], ondelete="CASCADE",
                                name=op.f("fk_reconcile_anomaly_run_id_reconcile_run")),
        sa.ForeignKeyConstraint(["market_id"], ["market.id"], ondelete="CASCADE",
                                name=op.f("fk_reconcile_anomaly_market_id_market")),
        sa.ForeignKeyConstraint(["stall_id"], ["stall.id"], ondelete="SET NULL",
                                name=op.f("fk_reconcile_anomaly_stall_id_stall")),
    )
    op.create_index(op.f("ix_reconcile_anomaly_run_id"), "reconcile_anomaly", ["run_id"])
    op.create_index(op.f("ix_reconcile_anomaly_market_id"), "reconcile_anomaly", ["market_id"])
    op.create_index(op.f("ix_reconcile_anomaly_period_kind"), "reconcile_anomaly", ["period", "kind"])


def downgrade() -> None:
    for table in ("reconcile_anomaly", "stall_period", "reconcile_run", "census_entry"):
        op.drop_table(table)
