"""region risk ratings (fallback-provider register terms live on graph edges)

Revision ID: c4f1a7e2b9d3
Revises: be681fd0a348
Create Date: 2026-11-25 15:10:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'c4f1a7e2b9d3'
down_revision = 'be681fd0a348'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('region_risk',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('code', sa.String(length=200), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('natural_hazard', sa.String(length=16), nullable=True),
    sa.Column('natural_hazard_score', sa.Double(), nullable=True),
    sa.Column('political_instability', sa.String(length=16), nullable=True),
    sa.Column('political_instability_score', sa.Double(), nullable=True),
    sa.Column('overall', sa.String(length=16), nullable=True),
    sa.Column('source', sa.String(length=16), nullable=False),
    sa.Column('source_detail', sa.String(length=300), nullable=True),
    sa.Column('details', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_region_risk')),
    sa.UniqueConstraint('kind', 'code', name='uq_region_risk_kind_code')
    )
    with op.batch_alter_table('region_risk', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_region_risk_name'), ['name'], unique=False)
        batch_op.create_index(batch_op.f('ix_region_risk_overall'), ['overall'], unique=False)
        batch_op.create_index(batch_op.f('ix_region_risk_source'), ['source'], unique=False)


def downgrade():
    with op.batch_alter_table('region_risk', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_region_risk_source'))
        batch_op.drop_index(batch_op.f('ix_region_risk_overall'))
        batch_op.drop_index(batch_op.f('ix_region_risk_name'))

    op.drop_table('region_risk')
