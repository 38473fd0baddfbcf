"""Live payments: live_transfer, live_request, live_watch.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-02

Transfers pushed by bank feeds as they happen (one per bank + transaction id, attributed to
a stall, no payer data), the exact amounts owners ask for (one-time 62.08 reference) and the
read-only links owners give helpers (hash only). Same conventions as 0001/0002.
"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: Union[str, Sequence[str], None] = "0012"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.create_table(
        "live_request",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("stall_id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=8), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("paid", sa.BigInteger(), nullable=False),
        sa.Column("settled_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_live_request")),
        sa.UniqueConstraint("code", name=op.f("uq_live_request_code")),
        sa.CheckConstraint("amount > 0", name=op.f("ck_live_request_amount")),
        sa.ForeignKeyConstraint(["stall_id"], ["stall.id"], ondelete="CASCADE",
                                name=op.f("fk_live_request_stall_id_stall")),
    )
    op.create_index(op.f("ix_live_request_stall_id"), "live_request", ["stall_id"])

    op.create_table(
        "live_transfer",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("bank_bin", sa.String(length=6), nullable=False),
        sa.Column("tx_id", sa.String(length=64), nullable=False),
        sa.Column("account", sa.String(length=19), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("booked_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("content", sa.String(length=500), nullable=False),
        sa.Column("provider", sa.String(length=16), nullable=False),
        sa.Column("source", sa.String(length=40), nullable=False),
        sa.Column("provider_id", sa.String(length=64), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("market_id", sa.Integer(), nullable=True),
        sa.Column("stall_id", sa.Integer(), nullable=True),
        sa.Column("method", sa.String(length=16), nullable=True),
        sa.Column("reason", sa.String(length=80), nullable=True),
        sa.Column("request_id", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_live_transfer")),
        sa.UniqueConstraint("bank_bin", "tx_id", name=op.f("uq_live_transfer_bank_bin_tx_id")),
        sa.CheckConstraint("amount > 0", name=op.f("ck_live_transfer_amount")),
        sa.CheckConstraint("method IS NULL OR method IN ('account', 'reference')", name=op.f("ck_live_transfer_method")),
        sa.ForeignKeyConstraint(["market_id"], ["market.id"], ondelete="CASCADE",
                                name=op.f("fk_live_transfer_market_id_market")),
        sa.ForeignKeyConstraint(["stall_id"], ["stall.id"], ondelete="CASCADE",
                                name=op.f("fk_live_transfer_stall_id_stall")),
        sa.ForeignKeyConstraint(["request_id"], ["live_request.id"], ondelete="SET NULL",
                                name=op.f("fk_live_transfer_request_id_live_request")),
    )
    op.create_index(op.f("ix_live_transfer_received_at"), "live_transfer", ["received_at"])
    op.create_index(op.f("ix_live_transfer_stall_id_id"), "live_transfer", ["stall_id", "id"])
    op.create_index(op.f("ix_live_transfer_market_id_received_at"), "live_transfer", ["market_id", "received_at"])

    op.create_table(
        "live_watch",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("stall_id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("label", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_live_watch")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_live_watch_token_hash")),
        sa.ForeignKeyConstraint(["stall_id"], ["stall.id"], ondelete="CASCADE",
                                name=op.f("fk_live_watch_stall_id_stall")),
    )
    op.create_index(op.f("ix_live_watch_stall_id"), "live_watch", ["stall_id"])


def downgrade() -> None:
    for table in ("live_watch", "live_transfer", "live_request"):
        op.drop_table(table)
