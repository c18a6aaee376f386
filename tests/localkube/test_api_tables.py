"""Printer-column JSONPath and kubectl's short ages, as the server formats Table cells."""

from __future__ import annotations

import pytest

from localkube.server.tables import evaluate, human_duration

OBJ = {
    "metadata": {"labels": {"serving.knative.dev/configuration": "hello"}},
    "spec": {"ports": [{"port": 80}, {"port": 443}]},
    "status": {"conditions": [{"type": "Ready", "status": "True"}, {"type": "Active", "status": "False"}]},
}


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        (".metadata.labels['serving\\.knative\\.dev/configuration']", ["hello"]),
        ('.metadata.labels["serving\\.knative\\.dev/configuration"]', ["hello"]),
        (".spec.ports[*].port", [80, 443]),
        (".spec.ports[1].port", [443]),
        (".spec.ports[-1].port", [443]),
        (".spec.ports[7].port", []),
        ('.status.conditions[?(@.type=="Ready")].status', ["True"]),
        (".status.conditions[?(@.type=='Active')].status", ["False"]),
        (".status.missing.deeper", []),
        ("{.spec.ports[0].port}", [80]),
    ],
)
def test_printer_column_paths(path: str, expected: list[object]) -> None:
    assert evaluate(OBJ, path) == expected


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (5, "5s"),
        (119, "119s"),
        (125, "2m5s"),
        (600, "10m"),
        (3 * 3600 + 60, "3h1m"),
        (9 * 3600, "9h"),
        (50 * 3600, "2d2h"),
        (20 * 86400, "20d"),
    ],
)
def test_ages_read_like_kubectl(seconds: int, text: str) -> None:
    assert human_duration(seconds) == text
