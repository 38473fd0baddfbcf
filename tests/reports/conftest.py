"""Fixtures of the reports tests; the world they build and the helpers live in ``reporthelpers``.

(Test modules import from ``reporthelpers``, never from ``conftest``: several test folders
have a conftest, and which one ``import conftest`` finds depends on the collection order.)
"""
from reporthelpers import loaded_store, store, world  # noqa: F401  (fixtures, found here by pytest)
