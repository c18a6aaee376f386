"""Kubernetes name helpers: Knative's kmeta.ChildName and the apimachinery name checks."""

from __future__ import annotations

import hashlib
import re
from typing import Final

LONGEST: Final = 63
_MD5_LEN: Final = 32
_HEAD: Final = LONGEST - _MD5_LEN

_DNS1035 = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
_DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_DNS1123_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_QUALIFIED_NAME = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
_C_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

DNS1035_ERROR: Final = (
    "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an "
    "alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', "
    "regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')"
)
QUALIFIED_NAME_ERROR: Final = (
    "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with "
    "an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation "
    "is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"
)


def child_name(parent: str, suffix: str) -> str:
    """A child's name `parent + suffix`, shortened with parent's md5 when over 63 characters.

    Same results as knative.dev/pkg/kmeta.ChildName, so names match a Knative cluster's.
    """
    if len(parent) <= LONGEST - len(suffix):
        return _trim_invalid_tail(parent + suffix)
    if _HEAD - len(suffix) <= 0:
        # The suffix alone leaves no room for parent and hash: hash both, keep what fits.
        digest = hashlib.md5((parent + suffix).encode(), usedforsecurity=False).hexdigest()
        out = parent[:_HEAD] + digest
        room = LONGEST - len(out)
        if room > 0:
            out += suffix[:room]
        return _trim_invalid_tail(out)
    digest = hashlib.md5(parent.encode(), usedforsecurity=False).hexdigest()
    return _trim_invalid_tail(parent[: _HEAD - len(suffix)] + digest + suffix)


def _trim_invalid_tail(name: str) -> str:
    while name and not name[-1].isalnum():
        name = name[:-1]
    return name


def dns1035_label_errors(value: str) -> list[str]:
    errs = []
    if len(value) > LONGEST:
        errs.append(f"must be no more than {LONGEST} characters")
    if not _DNS1035.match(value):
        errs.append(DNS1035_ERROR)
    return errs


def dns1123_label_errors(value: str) -> list[str]:
    errs = []
    if len(value) > LONGEST:
        errs.append(f"must be no more than {LONGEST} characters")
    if not _DNS1123_LABEL.match(value):
        errs.append(
            "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', "
            "and must start and end with an alphanumeric character"
        )
    return errs


def qualified_name_errors(value: str) -> list[str]:
    """apimachinery's IsQualifiedName: an optional DNS-subdomain prefix, '/', and a name part."""
    prefix, slash, name = value.rpartition("/")
    errs = []
    if slash:
        if not prefix:
            errs.append("prefix part must be non-empty")
        elif len(prefix) > 253 or not _DNS1123_SUBDOMAIN.match(prefix):
            errs.append("prefix part must be a lowercase RFC 1123 subdomain")
    if not name:
        errs.append("name part must be non-empty")
    elif len(name) > LONGEST:
        errs.append(f"name part must be no more than {LONGEST} characters")
    elif not _QUALIFIED_NAME.match(name):
        errs.append(QUALIFIED_NAME_ERROR)
    return errs


def is_c_identifier(value: str) -> bool:
    return bool(_C_IDENTIFIER.match(value))
