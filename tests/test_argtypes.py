"""Argument types of the command lines."""

from __future__ import annotations

import argparse

import pytest

from cc_backend.argtypes import positive_int


def test_a_positive_int_is_a_whole_number_of_at_least_one() -> None:
    assert positive_int("1") == 1
    assert positive_int("250") == 250


@pytest.mark.parametrize("text", ["0", "-3"])
def test_zero_and_negative_numbers_are_refused_naming_the_value(text: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError, match=f"must be at least 1, not {text}"):
        positive_int(text)


def test_argparse_reports_a_refused_value_as_the_options_error(
    capsys: pytest.CaptureFixture[str],
) -> None:
    parser = argparse.ArgumentParser(prog="tool")
    parser.add_argument("--workers", type=positive_int)

    for text, message in (("0", "must be at least 1, not 0"), ("two", "invalid positive_int")):
        with pytest.raises(SystemExit):
            parser.parse_args(["--workers", text])
        assert f"argument --workers: {message}" in capsys.readouterr().err
