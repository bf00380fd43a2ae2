"""The project store: one SQLite file, WAL mode, numbered migrations, one repository."""
from .db import Database, SCHEMA_VERSION  # noqa: F401
from .repository import Repository  # noqa: F401
