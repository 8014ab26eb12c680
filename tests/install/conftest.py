from tests.lab.conftest import _clean_labs  # noqa: F401
