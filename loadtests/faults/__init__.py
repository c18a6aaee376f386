"""Fault injection under steady open-loop load through a real `kwake up` (issue #10).

    python -m loadtests.faults dataplane [--quick]    # data-path faults: pods killed, never ready, burst

`stack` starts and inspects a `kwake up` to break; `tally` counts what every scenario reports
(requests sent, answered, failed by cause, time to recover, gateway memory high-water) and
prints it as a table; each scenario family is one module (`dataplane`, ...).
"""
