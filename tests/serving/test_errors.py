"""FieldError paths and formatting follow knative.dev/pkg/apis."""

from __future__ import annotations

from serving.api import errors
from serving.api.errors import FieldError, FieldErrors


def test_paths_compose_like_knative() -> None:
    err = errors.missing_field("image").via_index(0).via_field("containers").via_field("spec.template.spec")
    assert err.paths == ("spec.template.spec.containers[0].image",)


def test_index_on_current_field_and_array_value() -> None:
    assert errors.invalid_array_value("x", "tag", 2).paths == ("tag[2]",)
    assert FieldError("m").via_index(1).via_field("traffic").paths == ("traffic[1]",)


def test_key_paths() -> None:
    assert errors.invalid_value("1", "").via_key("a/b").via_field("metadata.annotations").paths == (
        "metadata.annotations[a/b]",
    )


def test_messages_match_knative_wording() -> None:
    assert (
        str(errors.out_of_bounds(601, 0, 600, "timeoutSeconds")) == "expected 0 <= 601 <= 600: timeoutSeconds"
    )
    assert str(errors.missing_field("image")) == "missing field(s): image"
    assert str(errors.disallowed_fields("url")) == "must not set the field(s): url"
    assert str(errors.multiple_one_of("a", "b")) == "expected exactly one, got both: a, b"
    assert str(errors.missing_one_of("a", "b")) == "expected exactly one, got neither: a, b"
    assert str(errors.invalid_value(True, "x")) == "invalid value: true: x"


def test_details_follow_on_a_new_line() -> None:
    err = FieldError(
        "Port name foo is not allowed", ("ports",), "Name must be empty, or one of: 'h2c', 'http1'"
    )
    assert str(err) == "Port name foo is not allowed: ports\nName must be empty, or one of: 'h2c', 'http1'"


def test_collection_is_falsy_when_empty_and_lists_kubectl_style_lines() -> None:
    assert not FieldErrors()
    errs = FieldErrors().also(None, FieldError("a", ("x", "y")), FieldErrors((FieldError("b", ("z",)),)))
    assert len(errs) == 2
    assert errs.messages() == ["x: a", "y: a", "z: b"]
