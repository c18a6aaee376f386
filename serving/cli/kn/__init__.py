"""The kn-style CLI: `kwake service|revision|route|apply|logs|request`, against any kubeconfig.

One module per noun (each with `register(parser)` and `run(args) -> int`, listed in
`serving.cli.main.COMMANDS`), over small shared ones:

- `flags`: the Service-shaping flags (`ServiceFlags`) and the checks on their values (`FlagError`).
- `build`: `service_from_flags(name, namespace, flags) -> dict`, `update_service(existing, flags)`.
- `traffic`: `compute_traffic(current, tags=, untags=, traffic=)`, kn's `--tag/--untag/--traffic`.
- `output`: tables, ages, condition cells, yaml/json.
- `session`: connection flags, the serving resources, `run_command`, `CliError`.
- `wait`: waiting for a Service to be Ready for a generation.
"""
