"""From desired scale to replicas and the Active condition (section 2.5), on a synthetic clock."""

from __future__ import annotations

from autoscaler.kpa.annotations import resolve_spec
from autoscaler.kpa.config import AutoscalerConfig
from autoscaler.kpa.decisions import Decision, PodAutoscalerSeed, RevisionKey
from autoscaler.kpa.multiscaler import MultiScaler
from tests.autoscaler.kpa_harness import KEY, Clocked, G


def first(decisions: list[Decision], predicate: object) -> int:
    assert callable(predicate)
    for i, decision in enumerate(decisions):
        if predicate(decision):
            return i
    raise AssertionError("never happened")


def test_new_revision_is_queued_until_a_pod_is_ready_then_active() -> None:
    rev = Clocked()
    decision = rev.tick()
    assert (decision.active_status, decision.active_reason) == ("Unknown", "Queued")
    assert decision.active_message.startswith("Requests to the target are being buffered")
    assert decision.want == -1 and not decision.apply
    rev.set_ready(1)
    decision = rev.tick()
    assert (decision.active_status, decision.active_reason) == ("True", "")
    assert decision.scale_target_initialized


def test_min_scale_applies_only_when_reachable() -> None:
    rev = Clocked({f"{G}/min-scale": "3"})
    rev.set_ready(3)
    decisions = rev.run(80)
    assert decisions[-1].desired_scale == 1  # halved from 3 ready, no traffic
    assert decisions[-1].want == 3 and decisions[-1].apply
    rev.set_reachable(False)
    decision = rev.run(2)[-1]
    assert decision.desired_scale == 0  # no scale-down limit when unreachable either
    assert decision.want == 0  # min-scale no longer holds it: the scale-to-zero path takes over


def test_min_scale_bounds_an_unknown_desired_while_activating() -> None:
    rev = Clocked({f"{G}/min-scale": "2"})
    decision = rev.tick()
    assert decision.desired_scale == -1
    assert decision.want == 2 and decision.apply


def test_max_scale_caps_the_want() -> None:
    rev = Clocked({f"{G}/max-scale": "4"})
    rev.set_ready(4)
    decision = rev.run(10, concurrency=100 * 70.0)[-1]
    assert decision.desired_scale > 4
    assert decision.want == 4


def test_initial_scale_holds_until_first_reached() -> None:
    rev = Clocked({f"{G}/initial-scale": "3"})
    rev.set_ready(1)
    decision = rev.run(2, concurrency=1.0)[-1]
    assert decision.desired_scale == 1
    assert decision.want == 3
    assert not decision.scale_target_initialized
    assert decision.active_reason == "Queued"  # 1 ready < initial 3
    rev.set_ready(3)
    decision = rev.run(2, concurrency=1.0)[-1]
    assert decision.scale_target_initialized
    assert decision.active_status == "True"
    rev.set_ready(2)
    decision = rev.run(2, concurrency=1.0)[-1]
    assert decision.want == 1  # initial scale no longer applies once reached


def test_initial_scale_ignored_when_unreachable() -> None:
    rev = Clocked({f"{G}/initial-scale": "3"}, reachable=False)
    rev.set_ready(1)
    assert rev.run(2, concurrency=1.0)[-1].want == 1


def test_scale_to_zero_disabled_keeps_one() -> None:
    rev = Clocked(config=AutoscalerConfig(enable_scale_to_zero=False))
    rev.set_ready(1)
    decisions = rev.run(200)
    assert all(d.want == 1 for d in decisions if d.had_data)
    assert decisions[-1].desired_scale == 0
    assert decisions[-1].active_status == "True"


def test_scale_to_zero_with_default_tbc_after_the_stable_window() -> None:
    # Default TBC 211 with one pod: EBC < 0, the gateway is already "in the path", so the grace
    # period costs nothing once the PA is inactive (as in Knative).
    rev = Clocked()
    rev.set_ready(1)
    rev.run(20, concurrency=10.0)
    start = rev.now
    decisions = rev.run(120, follow=True)
    zero_desired = first(decisions, lambda d: d.desired_scale == 0)
    inactive = first(decisions, lambda d: d.active_status == "False")
    applied = first(decisions, lambda d: d.apply and d.want == 0)
    assert start + 2 * (zero_desired + 1) >= start + 60  # a stable window of no traffic first
    assert decisions[inactive].active_reason == "NoTraffic"
    assert not decisions[inactive].apply  # marked inactive without scaling yet
    assert applied == inactive + 1
    assert decisions[-1].ready == 0


def test_scale_to_zero_waits_the_grace_period_when_the_gateway_just_joined() -> None:
    rev = Clocked({f"{G}/target-burst-capacity": "0"})
    rev.set_ready(1)
    rev.run(20, concurrency=10.0)
    decisions = rev.run(150, follow=True)
    inactive = first(decisions, lambda d: d.active_status == "False")
    applied = first(decisions, lambda d: d.apply and d.want == 0)
    # proxy since want became 0 (the same tick it went inactive): 30 s grace = 15 ticks
    assert applied - inactive == 15


def test_pod_retention_holds_the_last_pod() -> None:
    rev = Clocked({f"{G}/scale-to-zero-pod-retention-period": "50s"})
    rev.set_ready(1)
    rev.run(20, concurrency=10.0)
    decisions = rev.run(200, follow=True)
    inactive = first(decisions, lambda d: d.active_status == "False")
    applied = first(decisions, lambda d: d.apply and d.want == 0)
    assert applied - inactive == 25  # max(grace 30 s, retention 50 s) = 25 ticks


def test_pod_retention_does_not_hold_an_unreachable_revision() -> None:
    rev = Clocked({f"{G}/scale-to-zero-pod-retention-period": "1h"})
    rev.set_ready(1)
    rev.run(20, concurrency=10.0)
    rev.set_reachable(False)
    decisions = rev.run(200, follow=True)
    inactive = first(decisions, lambda d: d.active_status == "False")
    applied = first(decisions, lambda d: d.apply and d.want == 0)
    assert applied == inactive + 1  # default TBC: proxying long enough, no retention wait


def test_active_pa_keeps_one_pod_for_a_stable_window() -> None:
    # A pod that just became ready (Active just now) is kept a whole stable window before
    # the PA may go inactive, even if the metric says zero.
    rev = Clocked({f"{G}/window": "6s"})
    rev.run(10)  # no pods, no data
    rev.set_ready(1)
    decisions = rev.run(20, follow=True)
    became_active = first(decisions, lambda d: d.active_status == "True")
    # From the tick after it became active (that tick still saw it activating):
    zero = [d for d in decisions[became_active + 1 :] if d.desired_scale == 0 and d.active_status == "True"]
    assert zero and all(d.want == 1 and d.apply for d in zero)
    inactive = first(decisions, lambda d: d.active_status == "False")
    assert 2 * (inactive - became_active) >= 6


def test_activation_timeout_scales_to_zero_and_marks_timed_out() -> None:
    rev = Clocked({f"{G}/window": "6s"}, progress_deadline=20.0)  # timeout 50 s
    rev.run(4)
    rev.report(1.0, 1.0)  # the gateway's first-request stat
    decisions = rev.run(2, concurrency=1.0)
    assert decisions[-1].want == 1 and decisions[-1].apply
    assert decisions[-1].active_reason == "Queued"
    # The pod never becomes ready; the request waits, then gives up and traffic stops.
    decisions = rev.run(80)
    timed_out = first(decisions, lambda d: d.active_reason == "TimedOut")
    assert decisions[timed_out].apply and decisions[timed_out].want == 0
    assert decisions[timed_out].active_status == "False"
    assert decisions[timed_out].active_message == "The target could not be activated."
    assert all(d.want == -1 for d in decisions[: timed_out - 1] if d.desired_scale == 0)


def test_poke_decides_at_once_only_after_a_desired_of_zero() -> None:
    scaler = MultiScaler()
    key = RevisionKey("default", "cold-00001")
    spec = resolve_spec({f"{G}/window": "6s"}, 0, AutoscalerConfig())
    now = 1000.0
    scaler.add(key, spec, now, ready=1)
    scaler.record(now, [key], [0.0], [0.0])
    assert scaler.poke(key, now) is None  # last desired is -1, not 0
    scaler.tick(now)
    assert scaler.last_desired(key) == 0
    scaler.observe(key, ready=0)
    now += 30
    scaler.record(now, [key], [1.0], [1.0])
    decision = scaler.poke(key, now)
    assert decision is not None
    assert decision.desired_scale == 1 and decision.want == 1 and decision.apply
    assert scaler.poke(key, now) is None  # now desired is 1


def test_reports_for_unknown_revisions_are_ignored() -> None:
    scaler = MultiScaler()
    known = scaler.record(1.0, [RevisionKey("x", "y")], [3.0], [1.0])
    assert known == [False]


def test_seeded_status_resumes_after_restart() -> None:
    seed = PodAutoscalerSeed(active_status="False", active_reason="NoTraffic", active_since=0.0)
    rev = Clocked(seed=seed)
    decision = rev.tick()
    assert decision.want == -1 and not decision.apply  # unknown and inactive: left alone
    assert (decision.active_status, decision.active_reason) == ("False", "NoTraffic")


def test_tick_over_many_revisions_equals_ticking_each_alone() -> None:
    cfg = AutoscalerConfig()
    variants = [
        {},
        {f"{G}/metric": "rps"},
        {f"{G}/window": "6s", f"{G}/min-scale": "1"},
        {f"{G}/metric-aggregation-algorithm": "weighted-exponential"},
        {f"{G}/scale-down-delay": "10s"},
        {f"{G}/target": "5", f"{G}/panic-threshold-percentage": "150"},
    ]
    together = MultiScaler()
    alone = [MultiScaler() for _ in variants]
    keys = [RevisionKey("ns", f"r{i}") for i in range(len(variants))]
    now = 5000.0
    for i, variant in enumerate(variants):
        spec = resolve_spec(variant, 0, cfg)
        together.add(keys[i], spec, now, ready=1)
        alone[i].add(keys[i], spec, now, ready=1)
    for second in range(120):
        now += 1
        for i, key in enumerate(keys):
            load = float((second * (i + 3)) % 97) if second < 70 else 0.0
            together.record(now, [key], [load], [load * 2])
            alone[i].record(now, [key], [load], [load * 2])
        if second % 2 == 0:
            result = together.tick(now).by_key()
            for i, key in enumerate(keys):
                single = alone[i].tick(now).by_key()[key]
                assert result[key] == single
                together.observe(key, ready=max(0, single.want))
                alone[i].observe(key, ready=max(0, single.want))
    assert KEY not in together


def test_the_revision_progress_deadline_bounds_its_activation() -> None:
    annotations = {f"{G}/window": "6s", "serving.knative.dev/progress-deadline": "10s"}
    rev = Clocked(annotations, progress_deadline=600.0)  # the revision's 10 s wins: timeout 40 s
    rev.run(4)
    rev.report(1.0, 1.0)
    rev.run(2, concurrency=1.0)
    decisions = rev.run(60)
    timed_out = first(decisions, lambda d: d.active_reason == "TimedOut")
    assert 2 * (timed_out + 1) <= 46
