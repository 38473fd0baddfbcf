"""A stall keeps its verified account while a replacement waits for review.

One current account per stall becomes: at most one verified and at most one pending per
stall. An owner who changes their account gets a pending replacement beside the verified
one; the old account (and its posters) stays valid until staff verify the new one, which
revokes the old one at that moment.

Revision ID: 0012
Revises: 0011
"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0012"
down_revision: Union[str, Sequence[str], None] = "0011"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

CURRENT_ACCOUNT = "status IN ('pending', 'verified')"


def _partial(name: str, where: str) -> None:
    op.create_index(op.f(name), "payment_account", ["stall_id"], unique=True,
                    sqlite_where=sa.text(where), postgresql_where=sa.text(where))


def upgrade() -> None:
    op.drop_index(op.f("uq_payment_account_current_stall"), table_name="payment_account")
    _partial("uq_payment_account_verified_stall", "status IN ('verified')")
    _partial("uq_payment_account_pending_stall", "status IN ('pending')")


def downgrade() -> None:
    # A stall with both a verified account and a pending replacement cannot go back to one
    # current account: the replacement is revoked (history kept), as the old rule would have.
    op.execute("UPDATE payment_account SET status = 'revoked', revoked_at = CURRENT_TIMESTAMP, "
               "status_reason = 'schema downgrade: replacement withdrawn' WHERE status = 'pending' AND stall_id IN "
               "(SELECT stall_id FROM payment_account WHERE status = 'verified')")
    op.drop_index(op.f("uq_payment_account_pending_stall"), table_name="payment_account")
    op.drop_index(op.f("uq_payment_account_verified_stall"), table_name="payment_account")
    _partial("uq_payment_account_current_stall", CURRENT_ACCOUNT)
