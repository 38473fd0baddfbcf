"""A reconciliation anomaly for a household the census lists whose stall the registry closed.

Revision ID: 0008
Revises: 0006
"""
from typing import Sequence, Union

from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0008"
down_revision: Union[str, Sequence[str], None] = "0006"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

OLD_KINDS = ("'shared_account', 'closed_stall_live_qr', 'not_in_census_live_qr', 'name_mismatch', "
             "'unknown_account', 'idle_account', 'unattributed'")
NEW_KINDS = OLD_KINDS + ", 'census_lists_closed_stall'"


def _kinds(kinds: str) -> None:
    with op.batch_alter_table("reconcile_anomaly") as batch:
        batch.drop_constraint(op.f("ck_reconcile_anomaly_kind"), type_="check")
        batch.create_check_constraint(op.f("ck_reconcile_anomaly_kind"), f"kind IN ({kinds})")


def upgrade() -> None:
    _kinds(NEW_KINDS)


def downgrade() -> None:
    op.execute("DELETE FROM reconcile_anomaly WHERE kind = 'census_lists_closed_stall'")
    _kinds(OLD_KINDS)
