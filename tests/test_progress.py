"""Progress bars of long work: they count what passes and never write to stdout."""

from __future__ import annotations

import pytest

from cc_backend.progress import job_progress, tracked


@pytest.mark.parametrize("enabled", [True, False])
def test_counting_yields_every_item_and_advances_once_for_each(
    enabled: bool, capsys: pytest.CaptureFixture[str]
) -> None:
    advanced: list[int] = []
    with job_progress("indexing", enabled=enabled) as advance:

        def count() -> None:
            advanced.append(1)
            advance()

        assert list(tracked(range(5), count)) == [0, 1, 2, 3, 4]

    assert len(advanced) == 5
    assert capsys.readouterr().out == ""
