"""The registry: localities, markets, stalls, payment accounts, users, audit, enrollment.

Revision ID: 0001
Revises:
Create Date: 2026-01-05

Types are plain SQLAlchemy types with the same DDL as the models' (SQLModel's
AutoString is a VARCHAR; market40.models.UTCDateTime a timestamp with time
zone). Every constraint and index is named as the models' naming convention
would name it.
"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0001"
down_revision: Union[str, Sequence[str], None] = None
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

CURRENT_ACCOUNT = "status IN ('pending', 'verified')"


def upgrade() -> None:
    op.create_table(
        "locality",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=16), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("unit_type", sa.String(length=32), nullable=False),
        sa.Column("province", sa.String(length=120), nullable=False),
        sa.Column("valid_from", sa.Date(), nullable=False),
        sa.Column("valid_to", sa.Date(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_locality")),
        sa.UniqueConstraint("code", "valid_from", name=op.f("uq_locality_code_valid_from")),
        sa.CheckConstraint("kind IN ('district', 'commune')", name=op.f("ck_locality_kind")),
        sa.CheckConstraint("valid_to IS NULL OR valid_to > valid_from", name=op.f("ck_locality_validity")),
    )

    op.create_table(
        "locality_link",
        sa.Column("old_id", sa.Integer(), nullable=False),
        sa.Column("new_id", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("old_id", "new_id", name=op.f("pk_locality_link")),
        sa.ForeignKeyConstraint(["old_id"], ["locality.id"], ondelete="CASCADE",
                                name=op.f("fk_locality_link_old_id_locality")),
        sa.ForeignKeyConstraint(["new_id"], ["locality.id"], ondelete="CASCADE",
                                name=op.f("fk_locality_link_new_id_locality")),
        sa.CheckConstraint("old_id <> new_id", name=op.f("ck_locality_link_distinct")),
    )
    op.create_index(op.f("ix_locality_link_new_id"), "locality_link", ["new_id"])

    op.create_table(
        "market",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=16), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("tier", sa.String(length=32), nullable=True),
        sa.Column("tier_source", sa.String(length=200), nullable=True),
        sa.Column("tier_date", sa.Date(), nullable=True),
        sa.Column("is_central", sa.Boolean(), nullable=False),
        sa.Column("locality_id", sa.Integer(), nullable=False),
        sa.Column("address", sa.String(length=300), nullable=True),
        sa.Column("board_contact_name", sa.String(length=120), nullable=True),
        sa.Column("board_contact_phone", sa.String(length=20), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_market")),
        sa.UniqueConstraint("code", name=op.f("uq_market_code")),
        sa.ForeignKeyConstraint(["locality_id"], ["locality.id"], ondelete="RESTRICT",
                                name=op.f("fk_market_locality_id_locality")),
    )
    op.create_index(op.f("ix_market_locality_id"), "market", ["locality_id"])

    op.create_table(
        "stall",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("market_id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("shop_name", sa.String(length=200), nullable=True),
        sa.Column("goods_category", sa.String(length=120), nullable=True),
        sa.Column("owner_name", sa.String(length=200), nullable=False),
        sa.Column("owner_phone", sa.String(length=20), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("opened_on", sa.Date(), nullable=True),
        sa.Column("closed_on", sa.Date(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stall")),
        sa.UniqueConstraint("market_id", "code", name=op.f("uq_stall_market_id_code")),
        sa.ForeignKeyConstraint(["market_id"], ["market.id"], ondelete="RESTRICT",
                                name=op.f("fk_stall_market_id_market")),
        sa.CheckConstraint("status IN ('operating', 'closed')", name=op.f("ck_stall_status")),
    )

    op.create_table(
        "app_user",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("display_name", sa.String(length=120), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=True),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("phone", sa.String(length=20), nullable=True),
        sa.Column("stall_id", sa.Integer(), nullable=True),
        sa.Column("session_epoch", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_login_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_app_user")),
        sa.UniqueConstraint("username", name=op.f("uq_app_user_username")),
        sa.ForeignKeyConstraint(["stall_id"], ["stall.id"], ondelete="SET NULL",
                                name=op.f("fk_app_user_stall_id_stall")),
        sa.CheckConstraint("role IN ('owner', 'staff', 'officer', 'admin')", name=op.f("ck_app_user_role")),
    )
    op.create_index(op.f("ix_app_user_stall_id"), "app_user", ["stall_id"])

    op.create_table(
        "user_scope",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("market_id", sa.Integer(), nullable=True),
        sa.Column("locality_id", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_user_scope")),
        sa.ForeignKeyConstraint(["user_id"], ["app_user.id"], ondelete="CASCADE",
                                name=op.f("fk_user_scope_user_id_app_user")),
        sa.ForeignKeyConstraint(["market_id"], ["market.id"], ondelete="CASCADE",
                                name=op.f("fk_user_scope_market_id_market")),
        sa.ForeignKeyConstraint(["locality_id"], ["locality.id"], ondelete="CASCADE",
                                name=op.f("fk_user_scope_locality_id_locality")),
        sa.CheckConstraint("(market_id IS NULL) <> (locality_id IS NULL)", name=op.f("ck_user_scope_one_target")),
    )
    op.create_index(op.f("ix_user_scope_user_id"), "user_scope", ["user_id"])

    op.create_table(
        "payment_account",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("stall_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("bin", sa.String(length=6), nullable=False),
        sa.Column("number", sa.String(length=19), nullable=False),
        sa.Column("holder_name", sa.String(length=100), nullable=False),
        sa.Column("reference_label", sa.String(length=25), nullable=True),
        sa.Column("purpose", sa.String(length=25), nullable=False),
        sa.Column("payload", sa.String(length=512), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("status_reason", sa.String(length=500), nullable=True),
        sa.Column("verified_by_id", sa.Integer(), nullable=True),
        sa.Column("verified_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("rejected_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("consent_purpose", sa.String(length=200), nullable=False),
        sa.Column("consent_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("consent_channel", sa.String(length=32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payment_account")),
        sa.ForeignKeyConstraint(["stall_id"], ["stall.id"], ondelete="CASCADE",
                                name=op.f("fk_payment_account_stall_id_stall")),
        sa.ForeignKeyConstraint(["verified_by_id"], ["app_user.id"], ondelete="SET NULL",
                                name=op.f("fk_payment_account_verified_by_id_app_user")),
        sa.CheckConstraint("kind IN ('bank_account', 'card', 'ewallet')", name=op.f("ck_payment_account_kind")),
        sa.CheckConstraint("status IN ('pending', 'verified', 'rejected', 'revoked')",
                           name=op.f("ck_payment_account_status")),
        sa.CheckConstraint("status <> 'verified' OR verified_at IS NOT NULL",
                           name=op.f("ck_payment_account_verified")),
        sa.CheckConstraint("status <> 'rejected' OR (rejected_at IS NOT NULL AND status_reason IS NOT NULL)",
                           name=op.f("ck_payment_account_rejected")),
        sa.CheckConstraint("status <> 'revoked' OR (revoked_at IS NOT NULL AND status_reason IS NOT NULL)",
                           name=op.f("ck_payment_account_revoked")),
    )
    op.create_index(op.f("ix_payment_account_stall_id"), "payment_account", ["stall_id"])
    op.create_index(op.f("ix_payment_account_payload"), "payment_account", ["payload"])
    # At most one current (pending or verified) account per stall.
    op.create_index(
        op.f("uq_payment_account_current_stall"), "payment_account", ["stall_id"], unique=True,
        sqlite_where=sa.text(CURRENT_ACCOUNT), postgresql_where=sa.text(CURRENT_ACCOUNT),
    )

    op.create_table(
        "enrollment_code",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("stall_id", sa.Integer(), nullable=False),
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_enrollment_code")),
        sa.UniqueConstraint("code_hash", name=op.f("uq_enrollment_code_code_hash")),
        sa.ForeignKeyConstraint(["stall_id"], ["stall.id"], ondelete="CASCADE",
                                name=op.f("fk_enrollment_code_stall_id_stall")),
    )
    op.create_index(op.f("ix_enrollment_code_stall_id"), "enrollment_code", ["stall_id"])

    op.create_table(
        "audit_event",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("entity", sa.String(length=32), nullable=False),
        sa.Column("entity_id", sa.String(length=64), nullable=True),
        sa.Column("before", sa.Text(), nullable=True),
        sa.Column("after", sa.Text(), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_event")),
    )
    op.create_index(op.f("ix_audit_event_at"), "audit_event", ["at"])
    op.create_index(op.f("ix_audit_event_entity"), "audit_event", ["entity", "entity_id"])


def downgrade() -> None:
    for table in ("audit_event", "enrollment_code", "payment_account", "user_scope",
                  "app_user", "stall", "market", "locality_link", "locality"):
        op.drop_table(table)
