"""kpi contract link and KPI data versions

Revision ID: c4f1a9d27e6b
Revises: c4f1a7e2b9d3
Create Date: 2026-11-25 14:40:00.000000

"""
import secrets

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'c4f1a9d27e6b'
down_revision = 'c4f1a7e2b9d3'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('kpi', schema=None) as batch_op:
        batch_op.add_column(sa.Column('contract_id', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_kpi_contract_id'), ['contract_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_kpi_contract_id_contract'), 'contract', ['contract_id'], ['id'])

    table = op.create_table('kpi_data_version',
    sa.Column('vendor_service_id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('version', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['vendor_service_id'], ['vendor_service.id'], name=op.f('fk_kpi_data_version_vendor_service_id_vendor_service')),
    sa.PrimaryKeyConstraint('vendor_service_id', name=op.f('pk_kpi_data_version'))
    )
    # Every existing service starts with a stamp of its own, so that nothing computed before
    # this migration is ever taken for current.
    ids = [row[0] for row in op.get_bind().execute(sa.text('SELECT id FROM vendor_service'))]
    if ids:
        op.bulk_insert(table, [{'vendor_service_id': i, 'version': secrets.randbits(62)} for i in ids])


def downgrade():
    op.drop_table('kpi_data_version')
    with op.batch_alter_table('kpi', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_kpi_contract_id_contract'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_kpi_contract_id'))
        batch_op.drop_column('contract_id')
