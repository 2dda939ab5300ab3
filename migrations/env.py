"""Alembic environment: runs on the engine forumsync hands over (see forumsync.db).

On SQLite, a migration that alters a table rebuilds it (copy, drop, rename). Foreign keys
are switched off while that happens, or dropping a table other rows refer to fails halfway
(a database with data could then neither upgrade nor be used); they are checked afterwards.
"""

from alembic import context
from sqlalchemy import create_engine

from forumsync.models import Base

config = context.config
target_metadata = Base.metadata

engine = config.attributes.get("engine")
if engine is None:  # plain `alembic` command line: the URL comes from -x url=...
    engine = create_engine(context.get_x_argument(as_dictionary=True)["url"])

sqlite = engine.dialect.name == "sqlite"
with engine.connect() as connection:
    if sqlite:  # a pragma, so outside any transaction
        connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
        connection.commit()
    try:
        with connection.begin():
            context.configure(
                connection=connection,
                target_metadata=target_metadata,
                render_as_batch=sqlite,
                compare_type=True,
            )
            context.run_migrations()
        if sqlite:
            broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
            connection.commit()
            if broken:
                raise RuntimeError(f"migration left rows that refer to nothing: {broken[:5]}")
    finally:
        if sqlite:
            connection.exec_driver_sql("PRAGMA foreign_keys=ON")
            connection.commit()
