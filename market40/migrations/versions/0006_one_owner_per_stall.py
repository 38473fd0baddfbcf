"""One owner login per stall: a partial unique index on app_user (stall_id) for owners.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02

Before, an administrator could attach a second owner login to a stall, and both could
change the stall's payout account. Existing duplicates are not left to fail the upgrade:
the stall's first owner login (lowest id) stays; every later one is detached from the
stall and disabled, with an audit event saying so, for an administrator to review.
"""
import json
from datetime import datetime, timezone
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0006"
down_revision: Union[str, Sequence[str], None] = "0005"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    connection = op.get_bind()
    rows = connection.execute(sa.text(
        "SELECT id, stall_id FROM app_user WHERE role = 'owner' AND stall_id IS NOT NULL ORDER BY stall_id, id"
    )).fetchall()
    first: dict[int, int] = {}
    now = datetime.now(timezone.utc)
    if connection.dialect.name == "sqlite":  # UTC wall-clock time there, as market40.models.UTCDateTime stores it
        now = now.replace(tzinfo=None)
    for user_id, stall_id in rows:
        if stall_id not in first:
            first[stall_id] = user_id
            continue
        connection.execute(sa.text("UPDATE app_user SET stall_id = NULL, is_active = :off, "
                                   "session_epoch = session_epoch + 1 WHERE id = :id"),
                           {"id": user_id, "off": False})
        connection.execute(sa.text(
            "INSERT INTO audit_event (at, actor, action, entity, entity_id, before, after, note) "
            "VALUES (:at, 'migration:0006', 'user.disable', 'user', :id, :before, :after, :note)"
        ).bindparams(sa.bindparam("at", type_=sa.DateTime(timezone=connection.dialect.name != "sqlite"))),
            {"at": now, "id": str(user_id), "before": json.dumps({"stall_id": stall_id}),
             "after": json.dumps({"stall_id": None, "is_active": False}),
             "note": f"one owner login per stall: stall {stall_id} keeps user {first[stall_id]}"})
    op.create_index("uq_app_user_owner_stall", "app_user", ["stall_id"], unique=True,
                    sqlite_where=sa.text("role = 'owner'"), postgresql_where=sa.text("role = 'owner'"))


def downgrade() -> None:
    op.drop_index("uq_app_user_owner_stall", table_name="app_user")
