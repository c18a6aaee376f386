"""The CustomResourceDefinitions for kwake's six kinds, as data.

`python -m serving.api.crds [DIR]` writes them as YAML into `crds/` (one file per kind); a test
checks the committed files match. Schemas are structural (every node typed) and type the
fields Knative users set; below the container level, rarely used PodSpec parts are kept with
x-kubernetes-preserve-unknown-fields. Modelled on knative/serving config/core/300-resources.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import yaml

from serving.api import keys

Schema = dict[str, Any]


def _s(t: str, **extra: Any) -> Schema:
    return {"type": t, **extra}


def _str() -> Schema:
    return _s("string")


def _int(fmt: str = "int32") -> Schema:
    return _s("integer", format=fmt)


def _bool() -> Schema:
    return _s("boolean")


def _obj(props: dict[str, Schema] | None = None, required: list[str] | None = None, **extra: Any) -> Schema:
    out: Schema = {"type": "object"}
    if props is not None:
        out["properties"] = props
    if required:
        out["required"] = required
    out.update(extra)
    return out


def _arr(items: Schema, **extra: Any) -> Schema:
    return {"type": "array", "items": items, **extra}


def _preserve() -> Schema:
    return {"type": "object", "x-kubernetes-preserve-unknown-fields": True}


def _str_map() -> Schema:
    return _obj(additionalProperties=_str())


def _int_or_string() -> Schema:
    return {"anyOf": [{"type": "integer"}, {"type": "string"}], "x-kubernetes-int-or-string": True}


def _probe() -> Schema:
    return _obj(
        {
            "httpGet": _obj(
                {
                    "path": _str(),
                    "port": _int_or_string(),
                    "host": _str(),
                    "scheme": _str(),
                    "httpHeaders": _arr(_obj({"name": _str(), "value": _str()}, ["name", "value"])),
                }
            ),
            "tcpSocket": _obj({"port": _int_or_string(), "host": _str()}),
            "exec": _obj({"command": _arr(_str())}),
            "grpc": _obj({"port": _int(), "service": _str()}, ["port"]),
            "initialDelaySeconds": _int(),
            "periodSeconds": _int(),
            "timeoutSeconds": _int(),
            "successThreshold": _int(),
            "failureThreshold": _int(),
            "terminationGracePeriodSeconds": _int("int64"),
        }
    )


def container_schema() -> Schema:
    return _obj(
        {
            "name": _str(),
            "image": _str(),
            "command": _arr(_str()),
            "args": _arr(_str()),
            "workingDir": _str(),
            "env": _arr(_obj({"name": _str(), "value": _str(), "valueFrom": _preserve()}, ["name"])),
            "envFrom": _arr(_preserve()),
            "ports": _arr(
                _obj(
                    {
                        "name": _str(),
                        "containerPort": _int(),
                        "protocol": _str(),
                        "hostIP": _str(),
                        "hostPort": _int(),
                    },
                    ["containerPort"],
                )
            ),
            "readinessProbe": _probe(),
            "livenessProbe": _probe(),
            "startupProbe": _probe(),
            "resources": _preserve(),
            "volumeMounts": _arr(
                _obj(
                    {"name": _str(), "mountPath": _str(), "readOnly": _bool(), "subPath": _str()},
                    ["name", "mountPath"],
                )
            ),
            "imagePullPolicy": _str(),
            "securityContext": _preserve(),
            "lifecycle": _preserve(),
            "terminationMessagePath": _str(),
            "terminationMessagePolicy": _str(),
            "stdin": _bool(),
            "tty": _bool(),
        }
    )


def revision_spec_schema() -> Schema:
    return _obj(
        {
            "containers": _arr(container_schema()),
            "initContainers": _arr(container_schema()),
            "containerConcurrency": _int("int64"),
            "timeoutSeconds": _int("int64"),
            "responseStartTimeoutSeconds": _int("int64"),
            "idleTimeoutSeconds": _int("int64"),
            "serviceAccountName": _str(),
            "automountServiceAccountToken": _bool(),
            "enableServiceLinks": _bool(),
            "imagePullSecrets": _arr(_obj({"name": _str()})),
            "volumes": _arr(_preserve()),
            "affinity": _preserve(),
            "nodeSelector": _str_map(),
            "tolerations": _arr(_preserve()),
            "securityContext": _preserve(),
            "topologySpreadConstraints": _arr(_preserve()),
            "hostAliases": _arr(_preserve()),
            "dnsPolicy": _str(),
            "dnsConfig": _preserve(),
            "priorityClassName": _str(),
            "runtimeClassName": _str(),
            "schedulerName": _str(),
            "shareProcessNamespace": _bool(),
        },
        ["containers"],
    )


def _template_schema() -> Schema:
    meta = _obj({"name": _str(), "generateName": _str(), "labels": _str_map(), "annotations": _str_map()})
    meta["x-kubernetes-preserve-unknown-fields"] = True
    return _obj({"metadata": meta, "spec": revision_spec_schema()})


def traffic_schema() -> Schema:
    return _arr(
        _obj(
            {
                "tag": _str(),
                "revisionName": _str(),
                "configurationName": _str(),
                "latestRevision": _bool(),
                "percent": _int("int64"),
                "url": _str(),
            }
        )
    )


def _conditions() -> Schema:
    return _arr(
        _obj(
            {
                "type": _str(),
                "status": _str(),
                "severity": _str(),
                "lastTransitionTime": _s("string", format="date-time"),
                "reason": _str(),
                "message": _str(),
            },
            ["type", "status"],
        )
    )


def _status(extra: dict[str, Schema]) -> Schema:
    return _obj(
        {"observedGeneration": _int("int64"), "conditions": _conditions(), "annotations": _str_map(), **extra}
    )


def _address() -> Schema:
    return _obj({"name": _str(), "url": _str(), "CACerts": _str()})


def _root(spec: Schema, status: Schema) -> Schema:
    return _obj({"apiVersion": _str(), "kind": _str(), "metadata": _obj(), "spec": spec, "status": status})


def _ready_columns() -> list[dict[str, Any]]:
    return [
        {"name": "Ready", "type": "string", "jsonPath": ".status.conditions[?(@.type=='Ready')].status"},
        {"name": "Reason", "type": "string", "jsonPath": ".status.conditions[?(@.type=='Ready')].reason"},
    ]


def _crd(
    group: str,
    version: str,
    kind: str,
    plural: str,
    short: list[str],
    categories: list[str],
    schema: Schema,
    columns: list[dict[str, Any]],
) -> dict[str, Any]:
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{plural}.{group}", "labels": {"app.kubernetes.io/part-of": "kwake"}},
        "spec": {
            "group": group,
            "names": {
                "kind": kind,
                "listKind": f"{kind}List",
                "plural": plural,
                "singular": kind.lower(),
                "shortNames": short,
                "categories": categories,
            },
            "scope": "Namespaced",
            "versions": [
                {
                    "name": version,
                    "served": True,
                    "storage": True,
                    "subresources": {"status": {}},
                    "additionalPrinterColumns": columns,
                    "schema": {"openAPIV3Schema": schema},
                }
            ],
        },
    }


_SERVING_CATEGORIES = ["all", "knative", "serving"]
_URL = {"name": "URL", "type": "string", "jsonPath": ".status.url"}
_LATEST_CREATED = {"name": "LatestCreated", "type": "string", "jsonPath": ".status.latestCreatedRevisionName"}
_LATEST_READY = {"name": "LatestReady", "type": "string", "jsonPath": ".status.latestReadyRevisionName"}


def service_crd() -> dict[str, Any]:
    spec = _obj({"template": _template_schema(), "traffic": traffic_schema()})
    status = _status(
        {
            "url": _str(),
            "address": _address(),
            "latestCreatedRevisionName": _str(),
            "latestReadyRevisionName": _str(),
            "traffic": traffic_schema(),
        }
    )
    columns = [_URL, _LATEST_CREATED, _LATEST_READY, *_ready_columns()]
    return _crd(
        keys.SERVING_GROUP, "v1", keys.SERVICE, "services", ["kservice", "ksvc"], _SERVING_CATEGORIES,
        _root(spec, status), columns,
    )  # fmt: skip


def configuration_crd() -> dict[str, Any]:
    spec = _obj({"template": _template_schema()})
    status = _status({"latestCreatedRevisionName": _str(), "latestReadyRevisionName": _str()})
    columns = [_LATEST_CREATED, _LATEST_READY, *_ready_columns()]
    return _crd(
        keys.SERVING_GROUP, "v1", keys.CONFIGURATION, "configurations", ["config", "cfg", "kcfg"],
        _SERVING_CATEGORIES, _root(spec, status), columns,
    )  # fmt: skip


def route_crd() -> dict[str, Any]:
    spec = _obj({"traffic": traffic_schema()})
    status = _status({"url": _str(), "address": _address(), "traffic": traffic_schema()})
    return _crd(
        keys.SERVING_GROUP, "v1", keys.ROUTE, "routes", ["rt"], _SERVING_CATEGORIES,
        _root(spec, status), [_URL, *_ready_columns()],
    )  # fmt: skip


def revision_crd() -> dict[str, Any]:
    status = _status(
        {
            "logUrl": _str(),
            "containerStatuses": _arr(_obj({"name": _str(), "imageDigest": _str()})),
            "initContainerStatuses": _arr(_obj({"name": _str(), "imageDigest": _str()})),
            "actualReplicas": _int(),
            "desiredReplicas": _int(),
        }
    )
    columns = [
        {
            "name": "Config Name",
            "type": "string",
            "jsonPath": ".metadata.labels['serving\\.knative\\.dev/configuration']",
        },
        {
            "name": "Generation",
            "type": "string",
            "jsonPath": ".metadata.labels['serving\\.knative\\.dev/configurationGeneration']",
        },
        *_ready_columns(),
        {"name": "Actual Replicas", "type": "integer", "jsonPath": ".status.actualReplicas"},
        {"name": "Desired Replicas", "type": "integer", "jsonPath": ".status.desiredReplicas"},
    ]
    return _crd(
        keys.SERVING_GROUP, "v1", keys.REVISION, "revisions", ["rev"], _SERVING_CATEGORIES,
        _root(revision_spec_schema(), status), columns,
    )  # fmt: skip


def pod_autoscaler_crd() -> dict[str, Any]:
    spec = _obj(
        {
            "containerConcurrency": _int("int64"),
            "protocolType": _str(),
            "reachability": _str(),
            "scaleTargetRef": _obj({"apiVersion": _str(), "kind": _str(), "name": _str()}),
        },
        ["protocolType", "scaleTargetRef"],
    )
    status = _status(
        {"actualScale": _int(), "desiredScale": _int(), "metricsServiceName": _str(), "serviceName": _str()}
    )
    columns = [
        {"name": "DesiredScale", "type": "integer", "jsonPath": ".status.desiredScale"},
        {"name": "ActualScale", "type": "integer", "jsonPath": ".status.actualScale"},
        *_ready_columns(),
    ]
    return _crd(
        keys.AUTOSCALING_INTERNAL_GROUP, "v1alpha1", keys.POD_AUTOSCALER, "podautoscalers", ["kpa", "pa"],
        ["knative-internal", "autoscaling"], _root(spec, status), columns,
    )  # fmt: skip


def _load_balancer() -> Schema:
    return _obj(
        {
            "ingress": _arr(
                _obj({"domain": _str(), "domainInternal": _str(), "ip": _str(), "meshOnly": _bool()})
            )
        }
    )


def ingress_crd() -> dict[str, Any]:
    split = _obj(
        {
            "serviceName": _str(),
            "serviceNamespace": _str(),
            "servicePort": _int_or_string(),
            "percent": _s("integer"),
            "appendHeaders": _str_map(),
        },
        ["serviceName", "serviceNamespace", "servicePort"],
    )
    path = _obj(
        {
            "path": _str(),
            "headers": _obj(additionalProperties=_obj({"exact": _str()}, ["exact"])),
            "appendHeaders": _str_map(),
            "rewriteHost": _str(),
            "splits": _arr(split),
        },
        ["splits"],
    )
    rule = _obj({"hosts": _arr(_str()), "visibility": _str(), "http": _obj({"paths": _arr(path)}, ["paths"])})
    tls = _obj({"hosts": _arr(_str()), "secretName": _str(), "secretNamespace": _str()})
    spec = _obj({"rules": _arr(rule), "tls": _arr(tls), "httpOption": _str()})
    status = _status({"publicLoadBalancer": _load_balancer(), "privateLoadBalancer": _load_balancer()})
    return _crd(
        keys.NETWORKING_INTERNAL_GROUP, "v1alpha1", keys.INGRESS, "ingresses", ["kingress", "king"],
        ["knative-internal", "networking"], _root(spec, status), _ready_columns(),
    )  # fmt: skip


CRDS = {
    "service.yaml": service_crd,
    "configuration.yaml": configuration_crd,
    "route.yaml": route_crd,
    "revision.yaml": revision_crd,
    "podautoscaler.yaml": pod_autoscaler_crd,
    "ingress.yaml": ingress_crd,
}

HEADER = "# Generated by `python -m serving.api.crds crds/` from serving/api/crds.py; edit that, not this.\n"


def render(filename: str) -> str:
    return HEADER + yaml.safe_dump(CRDS[filename](), sort_keys=False, width=120)


def main(argv: list[str]) -> int:
    out = Path(argv[1] if len(argv) > 1 else "crds")
    out.mkdir(parents=True, exist_ok=True)
    for filename in CRDS:
        (out / filename).write_text(render(filename))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
