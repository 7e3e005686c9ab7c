"""Fixtures for tests on a private virtual desktop."""

from tests.desktop.session import virtual_desktop

__all__ = ["virtual_desktop"]
