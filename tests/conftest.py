"""Fixtures every test layer may use: where the test data and the shared corpus live.

Kept free of Django imports so that engine tests stay plain pytest.
"""

from __future__ import annotations

from pathlib import Path

import pytest

TESTS_DIR = Path(__file__).resolve().parent


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """tests/data/: small manifests written for the tests."""
    return TESTS_DIR / "data"


@pytest.fixture(scope="session")
def corpus_cases() -> Path:
    """The shared corpus of real cases (../shared/corpus/cases); skips when it is absent."""
    path = TESTS_DIR.parent.parent / "shared" / "corpus" / "cases"
    if not path.is_dir():
        pytest.skip(f"the shared corpus is not at {path}")
    return path


def pytest_configure(config: pytest.Config) -> None:
    # WhiteNoise warns once per process that STATIC_ROOT (filled by collectstatic for `make
    # serve`) does not exist; tests serve nothing from it.
    config.addinivalue_line("filterwarnings", "ignore:No directory at:UserWarning")
