"""ConfigMaps parse into typed configs with Knative's defaults, and bad values are refused."""

from __future__ import annotations

import pytest

from serving.api.config import Config, ConfigError
from serving.api.config.autoscaler import AutoscalerConfig
from serving.api.config.domain import DomainConfig
from serving.api.config.features import FeaturesConfig
from serving.api.config.gc import DISABLED, GCConfig
from serving.api.config.network import NetworkConfig


def test_empty_configmaps_give_knative_defaults() -> None:
    cfg = Config.from_configmaps({})
    assert cfg == Config()
    assert cfg.defaults.revision_timeout_seconds == 300
    assert cfg.defaults.max_revision_timeout_seconds == 600
    assert cfg.defaults.container_concurrency_max_limit == 1000
    assert cfg.network.domain_template == "{{.Name}}.{{.Namespace}}.{{.Domain}}"
    assert cfg.network.tag_template == "{{.Tag}}-{{.Name}}"
    assert cfg.network.rollout_duration_seconds == 0
    assert cfg.domain.lookup({}) == "svc.cluster.local"
    assert cfg.gc == GCConfig(48 * 3600.0, 15 * 3600.0, 20, 1000)
    assert cfg.deployment.progress_deadline_seconds == 600
    assert cfg.autoscaler.target_burst_capacity == 211
    assert cfg.autoscaler.initial_scale == 1
    assert cfg.autoscaler.stable_window == 60
    assert cfg.autoscaler.target_utilization == pytest.approx(0.7)
    assert cfg.features.enabled("multi-container")
    assert not cfg.features.enabled("tag-header-based-routing")


def test_values_are_read() -> None:
    cfg = Config.from_configmaps(
        {
            "config-defaults": {"revision-timeout-seconds": "120", "container-concurrency": "5"},
            "config-network": {
                "rollout-duration": "60",
                "domain-template": "{{.Name}}-{{.Namespace}}.{{.Domain}}",
            },
            "config-domain": {"localhost": ""},
            "config-gc": {"max-non-active-revisions": "disabled", "retain-since-create-time": "1h"},
            "config-features": {"tag-header-based-routing": "enabled"},
            "config-deployment": {"progress-deadline": "2m"},
            "config-autoscaler": {
                "initial-scale": "0",
                "allow-zero-initial-scale": "true",
                "stable-window": "30s",
            },
        }
    )
    assert cfg.defaults.revision_timeout_seconds == 120
    assert cfg.defaults.container_concurrency == 5
    assert cfg.network.rollout_duration_seconds == 60
    assert cfg.network.domain_for("a", "b", "localhost", {}) == "a-b.localhost"
    assert cfg.domain.lookup({"any": "thing"}) == "localhost"
    assert cfg.gc.max_non_active_revisions == DISABLED
    assert cfg.gc.retain_since_create_time == 3600
    assert cfg.features.enabled("tag-header-based-routing")
    assert cfg.deployment.progress_deadline_seconds == 120
    assert cfg.autoscaler.initial_scale == 0
    assert cfg.autoscaler.stable_window == 30


def test_domain_most_specific_selector_wins() -> None:
    cfg = DomainConfig.from_data(
        {
            "example.com": "",
            "prod.example.com": "selector:\n  env: prod\n",
            "eu.prod.example.com": "selector:\n  env: prod\n  region: eu\n",
        }
    )
    assert cfg.lookup({}) == "example.com"
    assert cfg.lookup({"env": "prod"}) == "prod.example.com"
    assert cfg.lookup({"env": "prod", "region": "eu"}) == "eu.prod.example.com"


def test_templates_render_with_annotations() -> None:
    cfg = NetworkConfig.from_data({"domain-template": '{{.Name}}.{{index .Annotations "sub"}}.{{.Domain}}'})
    assert cfg.domain_for("hello", "ns", "example.com", {"sub": "team"}) == "hello.team.example.com"
    assert NetworkConfig().tag_name("canary", "hello") == "canary-hello"


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("config-defaults", {"revision-timeout-seconds": "700"}),
        ("config-defaults", {"revision-timeout-seconds": "abc"}),
        ("config-network", {"domain-template": "{{.Namespace}}.{{.Domain}}"}),
        ("config-network", {"domain-template": "{{.Nope}}.{{.Name}}"}),
        ("config-network", {"rollout-duration": "-1"}),
        ("config-gc", {"min-non-active-revisions": "30", "max-non-active-revisions": "10"}),
        ("config-gc", {"retain-since-create-time": "forever"}),
        ("config-features", {"multi-container": "maybe"}),
        ("config-deployment", {"progress-deadline": "0s"}),
        ("config-autoscaler", {"stable-window": "5s"}),
        ("config-autoscaler", {"max-scale-down-rate": "1"}),
        ("config-autoscaler", {"initial-scale": "0"}),
        ("config-autoscaler", {"target-burst-capacity": "-2"}),
        ("config-autoscaler", {"container-concurrency-target-percentage": "120"}),
        ("config-domain", {"example.com": "selector: [1, 2]"}),
    ],
)
def test_bad_values_raise(name: str, data: dict[str, str]) -> None:
    with pytest.raises(ConfigError):
        Config.from_configmaps({name: data})


def test_percentage_as_fraction() -> None:
    cfg = AutoscalerConfig.from_data({"container-concurrency-target-percentage": "0.5"})
    assert cfg.target_utilization == 0.5


def test_unknown_feature_flag_defaults_disabled() -> None:
    assert FeaturesConfig().flag("kubernetes.podspec-something-new") == "Disabled"
    assert FeaturesConfig.from_data({"kubernetes.podspec-affinity": "Allowed"}).allowed(
        "kubernetes.podspec-affinity"
    )
