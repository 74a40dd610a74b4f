"""a vendor's statement that it has no subcontractors

Revision ID: d2a7c5e81f40
Revises: c4f1a9d27e6b
Create Date: 2026-11-25 17:55:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'd2a7c5e81f40'
down_revision = 'c4f1a9d27e6b'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('no_subcontractors_attestation',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('vendor_id', sa.Integer(), nullable=False),
    sa.Column('attested_by_id', sa.Integer(), nullable=True),
    sa.Column('attested_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['attested_by_id'], ['user.id'], name=op.f('fk_no_subcontractors_attestation_attested_by_id_user')),
    sa.ForeignKeyConstraint(['vendor_id'], ['vendor.id'], name=op.f('fk_no_subcontractors_attestation_vendor_id_vendor')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_no_subcontractors_attestation')),
    sa.UniqueConstraint('vendor_id', name=op.f('uq_no_subcontractors_attestation_vendor_id'))
    )


def downgrade():
    op.drop_table('no_subcontractors_attestation')
