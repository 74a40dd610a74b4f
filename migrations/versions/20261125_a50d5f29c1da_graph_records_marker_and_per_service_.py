"""graph records marker and per-service SPOF results

Revision ID: a50d5f29c1da
Revises: d2a7c5e81f40
Create Date: 2026-11-25 17:28:13.126267

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'a50d5f29c1da'
down_revision = 'd2a7c5e81f40'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('graph_records_version',
    sa.Column('id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('stamp', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_graph_records_version'))
    )
    op.create_table('graph_service_result',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('token', sa.String(length=32), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('format', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=200), nullable=False),
    sa.Column('business_service_id', sa.Integer(), nullable=True),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('criticality', sa.String(length=16), nullable=True),
    sa.Column('rto_hours', sa.Double(), nullable=True),
    sa.Column('downtime_cost_per_hour', sa.Double(), nullable=True),
    sa.Column('spof_count', sa.Integer(), nullable=False),
    sa.Column('common_cause_count', sa.Integer(), nullable=False),
    sa.Column('gap_count', sa.Integer(), nullable=False),
    sa.Column('down', sa.Boolean(), nullable=False),
    sa.Column('common_causes', sa.Text(), nullable=False),
    sa.Column('gaps', sa.Text(), nullable=False),
    sa.Column('document', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_graph_service_result')),
    sa.UniqueConstraint('token', 'version', 'format', 'position', name='uq_graph_service_result')
    )
    with op.batch_alter_table('graph_service_result', schema=None) as batch_op:
        batch_op.create_index('ix_graph_service_result_key', ['token', 'version', 'format', 'key'], unique=False)
        batch_op.create_index('ix_graph_service_result_version', ['version'], unique=False)

    with op.batch_alter_table('graph_state', schema=None) as batch_op:
        batch_op.add_column(sa.Column('records_stamp', sa.BigInteger(), nullable=True))

    # The SPOF analysis was stored whole (hundreds of MB on a large map); it is now stored one
    # row per service, computed again on first use.
    op.execute("DELETE FROM graph_result WHERE name LIKE 'spof%'")



def downgrade():
    with op.batch_alter_table('graph_state', schema=None) as batch_op:
        batch_op.drop_column('records_stamp')

    with op.batch_alter_table('graph_service_result', schema=None) as batch_op:
        batch_op.drop_index('ix_graph_service_result_version')
        batch_op.drop_index('ix_graph_service_result_key')

    op.drop_table('graph_service_result')
    op.drop_table('graph_records_version')
