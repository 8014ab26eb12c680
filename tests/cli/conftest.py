"""CLI tests reuse the lab fixtures."""

from tests.lab.conftest import _clean_labs, make_lab  # noqa: F401
