"""finding register indexes: its default order (due date, then id), pending risk requests

Revision ID: 4de0986ac41b
Revises: a50d5f29c1da
Create Date: 2026-11-25 17:45:19.362537

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '4de0986ac41b'
down_revision = 'a50d5f29c1da'
branch_labels = None
depends_on = None


def upgrade():
    op.create_index('ix_finding_due_date_id', 'finding', ['due_date', 'id'], unique=False)
    op.create_index(
        'ix_finding_risk_requested_by_id', 'finding', ['risk_requested_by_id'], unique=False
    )


def downgrade():
    op.drop_index('ix_finding_risk_requested_by_id', table_name='finding')
    op.drop_index('ix_finding_due_date_id', table_name='finding')
