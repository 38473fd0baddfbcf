"""Second factor: TOTP columns on app_user, single-use recovery codes.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30

``app_user.totp_secret`` (sealed under the deployment key), ``totp_enabled_at`` (NULL: not
enrolled), ``totp_last_step`` (the last TOTP time step accepted: a code is used once), and the
``recovery_code`` table (salted hashes only). Same conventions as 0001: plain SQLAlchemy types,
every constraint and index named; batch mode for SQLite.
"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0005"
down_revision: Union[str, Sequence[str], None] = "0004"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    with op.batch_alter_table("app_user") as batch:
        batch.add_column(sa.Column("totp_secret", sa.String(length=255), nullable=True))
        batch.add_column(sa.Column("totp_enabled_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("totp_last_step", sa.BigInteger(), nullable=True))
    op.create_table(
        "recovery_code",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("selector", sa.String(length=8), nullable=False),
        sa.Column("code_hash", sa.String(length=255), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_recovery_code")),
        sa.ForeignKeyConstraint(["user_id"], ["app_user.id"], ondelete="CASCADE",
                                name=op.f("fk_recovery_code_user_id_app_user")),
    )
    op.create_index("ix_recovery_code_user_id_selector", "recovery_code", ["user_id", "selector"])


def downgrade() -> None:
    op.drop_index("ix_recovery_code_user_id_selector", table_name="recovery_code")
    op.drop_table("recovery_code")
    with op.batch_alter_table("app_user") as batch:
        batch.drop_column("totp_last_step")
        batch.drop_column("totp_enabled_at")
        batch.drop_column("totp_secret")
