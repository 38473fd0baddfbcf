"""Web fixtures: an app on the test database, a small two-market world, signed-in clients.

See :mod:`webhelpers` for the world and the helpers tests import.
"""
from __future__ import annotations

from typing import Any

import pytest
from sqlmodel import Session

from webhelpers import SECRET, Clock, World, build_world
from web import create_app


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def world(session: Session) -> World:
    return build_world(session)


@pytest.fixture
def app(engine: Any, clock: Clock) -> Any:
    # The pages' own tests sign users in directly; the second factor (required for staff, officers
    # and admins by default) has its own tests in test_second_factor.py.
    return create_app({"ENGINE": engine, "SECRET_KEY": SECRET, "TESTING": True, "CLOCK": clock,
                       "RATELIMIT_STORAGE_URI": "memory://", "SECOND_FACTOR_ROLES": ""})


@pytest.fixture
def client(app: Any) -> Any:
    return app.test_client()
