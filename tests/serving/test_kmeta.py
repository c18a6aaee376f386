"""Knative's ChildName vectors, name checks and Go durations."""

from __future__ import annotations

import pytest

from serving.api.durations import DurationError, format_duration, parse_duration
from serving.api.kmeta import child_name, dns1035_label_errors, qualified_name_errors


@pytest.mark.parametrize(
    ("parent", "suffix", "want"),
    [
        ("asdf", "-deployment", "asdf-deployment"),
        # Vectors from knative/pkg kmeta/names_test.go.
        ("f" * 63, "-deployment", "ffffffffffffffffffff105d7597f637e83cc711605ac3ea4957-deployment"),
        ("f" * 63, "-deploy", "ffffffffffffffffffffffff105d7597f637e83cc711605ac3ea4957-deploy"),
        ("hello", "-00001", "hello-00001"),
    ],
)
def test_child_name(parent: str, suffix: str, want: str) -> None:
    assert child_name(parent, suffix) == want


def test_child_name_long_suffix_is_hashed_and_valid() -> None:
    got = child_name("p" * 40, "-" + "s" * 40)
    assert len(got) == 63
    assert got.startswith("p" * 31)
    assert got[-1].isalnum()


def test_dns1035() -> None:
    assert dns1035_label_errors("canary") == []
    assert dns1035_label_errors("1abc")
    assert dns1035_label_errors("Abc")
    assert dns1035_label_errors("a" * 64)


def test_qualified_name() -> None:
    assert qualified_name_errors("hello-00001") == []
    assert qualified_name_errors("bad name")
    assert qualified_name_errors("example.com/ok") == []


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("0", 0), ("600s", 600), ("1m30s", 90), ("48h", 172800), ("1.5h", 5400), ("500ms", 0.5), ("-2s", -2)],
)
def test_parse_duration(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "10", "1x", "s", "1h-2m"])
def test_parse_duration_rejects(text: str) -> None:
    with pytest.raises(DurationError):
        parse_duration(text)


def test_format_duration_like_go() -> None:
    assert format_duration(6) == "6s"
    assert format_duration(3600) == "1h0m0s"
    assert format_duration(90) == "1m30s"
    assert format_duration(0) == "0s"
