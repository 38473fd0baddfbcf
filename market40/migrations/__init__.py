"""Alembic migrations of the market40 registry (run through market40.db)."""
