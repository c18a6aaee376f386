"""serving.api: Knative Serving v1's types, defaults, validation, conditions and config, as data.

The bottom layer of kwake: imports nothing else of kwake, does no I/O. Modules:

- `keys`: groups, kinds, label/annotation keys, header names, reserved ports and env vars.
- `types`, `meta`: frozen views with `from_body()` (Service, Configuration, Route, Revision,
  TrafficTarget, ObjectMeta, Condition) and helpers (`user_port`, `protocol`).
- `defaults`: `default_service/configuration/route/revision(body, cfg) -> dict`, `set_user_info`.
- `validation`: `validate_service/configuration/route/revision(body, cfg, old=None) -> FieldErrors`,
  `validate_autoscaling_annotations(annotations, autoscaler_cfg)`.
- `errors`: FieldError/FieldErrors with Knative's wording and paths.
- `conditions`, `lifecycle.<kind>`: condition sets and the named transitions (`now` passed in).
- `config`: `Config.from_configmaps({...})` over config-defaults, -network, -domain, -gc,
  -features, -deployment, -autoscaler, with Knative's defaults.
- `kmeta`: `child_name` (Knative's kmeta.ChildName), name checks; `durations`: Go durations.
- `crds`: the CRD manifests as data (`python -m serving.api.crds crds/` writes them).
"""
