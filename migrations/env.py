"""Alembic environment: runs on the engine forumsync hands over (see forumsync.db)."""

from alembic import context
from sqlalchemy import create_engine

from forumsync.models import Base

config = context.config
target_metadata = Base.metadata

engine = config.attributes.get("engine")
if engine is None:  # plain `alembic` command line: the URL comes from -x url=...
    engine = create_engine(context.get_x_argument(as_dictionary=True)["url"])

with engine.begin() as connection:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    context.run_migrations()
