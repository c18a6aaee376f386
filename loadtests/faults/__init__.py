"""Fault injection under steady open-loop load through a real `kwake up` (issue #10).

    python -m loadtests.faults dataplane [--quick] [--only NAME]   # pods killed, never ready, bursts
    python -m loadtests.faults control [...]                       # kwake's own components killed

`stack` starts and inspects a `kwake up` to break; `tally` counts what every scenario reports
(requests sent, answered, failed by cause, time to recover, gateway memory high-water) and
prints it as a table; `access` reads the gateway's access log. Data path: `scenario` (sizes and
shared steps), `kills`, `overload`, run by `dataplane`. Control plane: `control_plane`.
"""
