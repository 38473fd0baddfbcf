"""Payment accounts: personal or household-business (HKD) holder, HKD registration number and
tax code, and a bank-issued merchant QR (NAPAS QRPUSH) stored as issued.

Revision ID: 0010
Revises: 0009
"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0010"
down_revision: Union[str, Sequence[str], None] = "0009"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    with op.batch_alter_table("payment_account") as batch:
        batch.add_column(sa.Column("holder_type", sa.String(length=16), nullable=False,
                                   server_default="personal"))
        batch.add_column(sa.Column("business_reg_no", sa.String(length=32), nullable=True))
        batch.add_column(sa.Column("tax_code", sa.String(length=14), nullable=True))
        batch.add_column(sa.Column("merchant_payload", sa.String(length=512), nullable=True))
        batch.create_check_constraint(op.f("ck_payment_account_holder_type"),
                                      "holder_type IN ('personal', 'household')")
        batch.create_index(op.f("ix_payment_account_merchant_payload"), ["merchant_payload"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("payment_account") as batch:
        batch.drop_index(op.f("ix_payment_account_merchant_payload"))
        batch.drop_constraint(op.f("ck_payment_account_holder_type"), type_="check")
        batch.drop_column("merchant_payload")
        batch.drop_column("tax_code")
        batch.drop_column("business_reg_no")
        batch.drop_column("holder_type")
