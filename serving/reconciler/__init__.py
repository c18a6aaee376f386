"""serving.reconciler: pure builders from serving.api types to desired objects (no I/O).

`names` derives every child name; `<kind>/resources/` build children (`make_configuration`,
`make_route`, `make_revision`, `make_deployment`, `make_k8s_service`, `make_pod_autoscaler`,
`make_ingress`); `route/traffic.py` resolves traffic, `route/rollout.py` steps gradual
rollouts, `gc/collect.py` picks Revisions to collect, `labeler/` computes routing state.
"""
