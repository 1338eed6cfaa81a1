from pathlib import Path

import pytest

FIXTURES = Path(__file__).parents[2] / "fixtures" / "singer"


@pytest.fixture
def fixtures() -> Path:
    return FIXTURES
