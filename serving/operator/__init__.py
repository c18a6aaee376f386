"""serving.operator: the kopf operator that runs the reconcilers against a cluster.

`runner.run_operator(kubeconfig, webhook=WebhookOptions(), stop_flag=...)` runs it;
`kwake operator` is the command. kopf watches and serves admission; `controller.Controller`
holds the level-based work queues; `service`, `configuration`, `revision`, `route` hold one
reconcile function each, built on `children.ensure` and the pure builders.
"""
