"""config-network: host name templates, rollout duration, ingress class.

Source: knative.dev/networking pkg/config/config.go. The templates are Go templates; kwake
accepts the `{{.Name}}`, `{{.Namespace}}`, `{{.Domain}}`, `{{.Tag}}` fields Knative documents,
with `{{index .Annotations "key"}}` for annotations, and nothing more.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from serving.api.config._parse import ConfigError, get_int, get_str

NAME: Final = "config-network"
DEFAULT_DOMAIN_TEMPLATE: Final = "{{.Name}}.{{.Namespace}}.{{.Domain}}"
DEFAULT_TAG_TEMPLATE: Final = "{{.Tag}}-{{.Name}}"
DEFAULT_INGRESS_CLASS: Final = "kwake.ingress.networking.knative.dev"

_FIELD = re.compile(r"\{\{\s*\.(\w+)\s*\}\}")
_INDEX = re.compile(r'\{\{\s*index\s+\.Annotations\s+"([^"]+)"\s*\}\}')
_ANY = re.compile(r"\{\{.*?\}\}")


def render_template(template: str, values: Mapping[str, str], annotations: Mapping[str, str]) -> str:
    """Fill a Knative host template; unknown fields raise ConfigError."""

    def field(m: re.Match[str]) -> str:
        if m.group(1) not in values:
            raise ConfigError(f"template {template!r} uses unknown field .{m.group(1)}")
        return values[m.group(1)]

    out = _INDEX.sub(lambda m: annotations.get(m.group(1), ""), template)
    out = _FIELD.sub(field, out)
    if _ANY.search(out):
        raise ConfigError(f"template {template!r} uses an unsupported action")
    return out


@dataclass(frozen=True)
class NetworkConfig:
    domain_template: str = DEFAULT_DOMAIN_TEMPLATE
    tag_template: str = DEFAULT_TAG_TEMPLATE
    rollout_duration_seconds: int = 0
    ingress_class: str = DEFAULT_INGRESS_CLASS
    default_external_scheme: str = "http"
    cluster_domain: str = "cluster.local"

    @classmethod
    def from_data(cls, data: Mapping[str, str]) -> NetworkConfig:
        cfg = cls(
            domain_template=get_str(data, "domain-template", DEFAULT_DOMAIN_TEMPLATE),
            tag_template=get_str(data, "tag-template", DEFAULT_TAG_TEMPLATE),
            rollout_duration_seconds=get_int(data, "rollout-duration", 0),
            ingress_class=get_str(
                data, "ingress-class", get_str(data, "ingress.class", DEFAULT_INGRESS_CLASS)
            ),
            default_external_scheme=get_str(data, "default-external-scheme", "http"),
        )
        if cfg.rollout_duration_seconds < 0:
            raise ConfigError(
                f"rollout-duration must be a non-negative integer, was {cfg.rollout_duration_seconds}"
            )
        # Knative checks the templates by rendering them with sample values.
        sample = {"Name": "foo", "Namespace": "bar", "Domain": "baz.com", "Tag": "t"}
        render_template(cfg.domain_template, sample, {})
        if "{{.Name}}" not in cfg.domain_template.replace(" ", ""):
            raise ConfigError(f"domain-template {cfg.domain_template!r} must contain {{{{.Name}}}}")
        render_template(cfg.tag_template, sample, {})
        return cfg

    def domain_for(self, name: str, namespace: str, domain: str, annotations: Mapping[str, str]) -> str:
        values = {"Name": name, "Namespace": namespace, "Domain": domain}
        return render_template(self.domain_template, values, annotations)

    def tag_name(self, tag: str, name: str) -> str:
        """The name a tagged target gets before the domain template (default `{tag}-{name}`)."""
        return render_template(self.tag_template, {"Tag": tag, "Name": name}, {})
