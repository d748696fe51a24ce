"""The alerts every onboarded service gets: what each watches, its PromQL, and its unit-test cases.

One :class:`Alert` per rule, in the kubernetes-mixin style (a ``summary``, a ``description``
carrying the current value, a ``runbook_url``; labels ``service``, ``environment`` and
``severity``). Each alert builds its expression for a :class:`Scope` (the service in one
environment's namespace, or the base with no namespace) and its thresholds (:class:`Values`), and
two promtool unit-test cases over realistic series: one that must fire and one that must stay
quiet. The cases follow the thresholds, so a team that changes a threshold in ``pipekit.yaml``
gets tests that still say what the rule promises; a team that edits a rule by hand sees the
generated tests fail when the rule no longer does it.

The series are the standard ones: kube-state-metrics (v2), Spring Boot 3's Micrometer Prometheus
registry (scraped by the ServiceMonitor init writes, so ``job`` is the service's name), Argo CD's
application controller, ``pipekit dora --push-gateway`` (job ``pipekit_dora``) and the deploy marker
``pipekit notify`` pushes after a deployment (job ``pipekit_deploy``).

Counts (restarts, failed syncs) are kept small in the cases: Prometheus 3 extrapolates
``increase()`` over a left-open window where Prometheus 2 did not, and the printed value must be
the same for both.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

from pipekit.alerting.promql import number

PER_MIN = 4  # the cases' samples per minute: a 15 s scrape interval
INTERVAL = "15s"
LEAD = 5  # minutes of normal operation before anything happens in a case
UNCACHED = "/actuator/.*"  # probes and scrapes: not the service's own traffic


@dataclass(frozen=True)
class Param:
    name: str
    kind: str  # ratio (0..1) | seconds (a number of seconds) | count (a whole number) | duration
    default: str
    help: str


@dataclass(frozen=True)
class Scope:
    """Where a rule looks: the service, and one environment (``None``: the base, every namespace)."""

    service: str
    environment: str | None = None
    namespace: str | None = None

    def _ns(self) -> str:
        return f'namespace="{self.namespace}", ' if self.namespace else ""

    @property
    def pods(self) -> str:
        return f'{self._ns()}container="{self.service}"'

    @property
    def deployment(self) -> str:
        return f'{self._ns()}deployment="{self.service}"'

    @property
    def app(self) -> str:
        return f'{self._ns()}job="{self.service}"'

    @property
    def argocd(self) -> str:
        return f'name="{self.app_name}"' if self.environment else f'name=~"{self.service}-.+"'

    @property
    def app_name(self) -> str:
        return f"{self.service}-{self.environment}"

    @property
    def pipekit(self) -> str:
        env = f', environment="{self.environment}"' if self.environment else ""
        return f'service="{self.service}"{env}'

    @property
    def pod(self) -> str:
        return f"{self.service}-7d9f8b6c5d-x2x9z"


@dataclass(frozen=True)
class Values:
    """One rule's answers for one environment: numbers (durations in seconds) and their text."""

    numbers: dict[str, float]
    text: dict[str, str]

    def __getitem__(self, name: str) -> float:
        return self.numbers[name]

    def literal(self, name: str) -> str:
        """A threshold as a PromQL number, as the team wrote it."""
        return self.text[name]

    @property
    def for_s(self) -> float:
        return self.numbers["for"]

    @property
    def for_min(self) -> float:
        return self.numbers["for"] / 60


@dataclass
class Case:
    name: str
    series: list[tuple[str, list[float | str | None]]]
    eval_min: int
    expect: list[tuple[dict[str, str], float]] = field(default_factory=list)  # (expression labels, value)


@dataclass(frozen=True)
class Alert:
    key: str  # the answer's name in pipekit.yaml (alerts.rules.<key>)
    name: str  # the alertname
    group: str  # workload | service | delivery | after-deploy
    source: str
    series: tuple[str, ...]
    params: tuple[Param, ...]
    default_for: str
    summary: str
    description: str
    action: str  # what to do when it fires (the runbook)
    expr: Callable[[Scope, Values], str]
    firing: Callable[[Scope, Values], Case]
    quiet: Callable[[Scope, Values], Case]
    severity: str | None = None  # a fixed default severity (else the environment's)
    prod: tuple[tuple[str, str], ...] = ()  # init's default overrides in prod

    def param(self, name: str) -> Param:
        return next(p for p in self.params if p.name == name)


# -- building series ----------------------------------------------------------------------------
class Track:
    """The samples of one series, built minute by minute at :data:`PER_MIN` samples a minute."""

    def __init__(self, start: float | None = None) -> None:
        self.values: list[float | str | None] = []
        self.last: float | None = start

    def hold(self, minutes: float, value: float | None = None) -> Track:
        value = self.last if value is None else value
        self.values += [value] * round(minutes * PER_MIN)
        self.last = value
        return self

    def ramp(self, minutes: float, per_sample: float) -> Track:
        assert self.last is not None
        for _ in range(round(minutes * PER_MIN)):
            self.last += per_sample
            self.values.append(self.last)
        return self

    def absent(self, minutes: float) -> Track:
        self.values += [None] * round(minutes * PER_MIN)
        return self

    def stale(self) -> Track:
        """The series ends (the exporter stopped exposing it): Prometheus writes a staleness marker."""
        if self.values and self.values[-1] is not None:
            self.values[-1] = "stale"
        return self

    def until(self, minutes: float) -> list[float | str | None]:
        """The samples up to ``minutes`` (the last value held, or the series left absent)."""
        wanted = round(minutes * PER_MIN) + 1
        if self.values and self.values[-1] in (None, "stale"):
            return self.values + [None] * max(0, wanted - len(self.values))
        return self.values + [self.last] * max(0, wanted - len(self.values))


def brief(v: Values, cap_min: float | None = None) -> float | None:
    """How long (minutes) a brief episode lasts in a quiet case: half of ``for`` (at most ``cap_min``),
    on the sample grid; None when ``for`` is too short for any episode to stay quiet."""
    if v.for_s < 30:
        return None
    minutes = v.for_min / 2
    if cap_min is not None:
        minutes = min(minutes, cap_min)
    return max(0.25, math.floor(minutes * PER_MIN) / PER_MIN)


def end_of(v: Values, *, settle: float = 0) -> int:
    """The evaluation minute of a firing case: the lead, ``settle`` minutes for the expression to
    become true, ``for``, and two minutes of margin."""
    return math.ceil(LEAD + settle + v.for_min + 2)


def ksm(scope: Scope, metric: str, **labels: str) -> str:
    base = {"namespace": scope.namespace or "", **labels, "job": "kube-state-metrics"}
    return metric + "{" + ", ".join(f'{k}="{val}"' for k, val in base.items()) + "}"


def container(s: Scope, metric: str, uid: str, pod: str | None = None, **labels: str) -> str:
    """A kube-state-metrics series of the service's container in a pod (``uid``; default ``s.pod``)."""
    return ksm(s, metric, pod=pod or s.pod, container=s.service, uid=uid, **labels)


def scraped(scope: Scope, metric: str, **labels: str) -> str:
    base = {
        "namespace": scope.namespace or "",
        "job": scope.service,
        "pod": scope.pod,
        "instance": "10.1.4.17:8080",
        **labels,
    }
    return metric + "{" + ", ".join(f'{k}="{val}"' for k, val in base.items()) + "}"


def labelled(metric: str, **labels: str) -> str:
    return metric + "{" + ", ".join(f'{k}="{val}"' for k, val in labels.items()) + "}"


# -- workload health: kube-state-metrics --------------------------------------------------------
def _restart_steps(restarts: float) -> tuple[float, float]:
    """(minutes between restarts, restarts each time) giving at least ``restarts`` in 15 minutes."""
    for gap in (5.0, 3.0, 1.0):
        if 15 / gap >= restarts:
            return gap, 1.0
    return 1.0, float(math.ceil(restarts / 15))


def crash_looping_expr(s: Scope, v: Values) -> str:
    return (
        "max by (namespace, pod, container) "
        f"(increase(kube_pod_container_status_restarts_total{{{s.pods}}}[15m]))"
        f" >= {v.literal('restarts')}\n"
        "  and on (namespace, pod, container)\n"
        "max by (namespace, pod, container) (max_over_time(kube_pod_container_status_waiting_reason"
        f'{{{s.pods}, reason="CrashLoopBackOff"}}[15m])) >= 1'
    )


def _crash_loop_back_off(s: Scope) -> str:
    return container(s, "kube_pod_container_status_waiting_reason", "6b1f0c2e", reason="CrashLoopBackOff")


def crash_looping_firing(s: Scope, v: Values) -> Case:
    gap, size = _restart_steps(v["restarts"])
    end = end_of(v, settle=15)
    restarts, waiting = Track(0).hold(LEAD + 0.5), Track().absent(LEAD + 0.5)
    t = LEAD + 0.5
    while t < end:  # a restart every `gap` minutes, in CrashLoopBackOff between them
        restarts.ramp(0.25, size).hold(gap - 0.25)
        waiting.hold(gap, 1)
        t += gap
    per_window = 15 / gap * size
    labels = {"namespace": s.namespace or "", "pod": s.pod, "container": s.service}
    return Case(
        f"a crash loop: a restart every {number(gap)} min",
        [
            (container(s, "kube_pod_container_status_restarts_total", "6b1f0c2e"), restarts.until(end)),
            (_crash_loop_back_off(s), waiting.until(end)),
        ],
        end,
        [(labels, per_window)],
    )


def crash_looping_quiet(s: Scope, v: Values) -> Case:
    end = end_of(v, settle=15)
    series = [
        (
            container(s, "kube_pod_container_status_restarts_total", "6b1f0c2e"),
            Track(0).hold(LEAD + 0.5).ramp(0.25, 1).until(end),
        )
    ]
    if v["restarts"] > 1:  # one crash, a short back-off, then it runs
        series.append((_crash_loop_back_off(s), Track().absent(LEAD + 0.5).hold(0.5, 1).stale().until(end)))
        return Case("a single restart", series, end)
    return Case("a single restart that never went into CrashLoopBackOff", series, end)


def image_pull_expr(s: Scope, v: Values) -> str:
    return (
        "count by (namespace) (kube_pod_container_status_waiting_reason"
        f'{{{s.pods}, reason=~"ErrImagePull|ImagePullBackOff"}}) >= 1'
    )


def _waiting(s: Scope, track: Track, end: int) -> tuple[str, list[float | str | None]]:
    return (
        container(s, "kube_pod_container_status_waiting_reason", "9c2d7a41", reason="ImagePullBackOff"),
        track.until(end),
    )


def image_pull_firing(s: Scope, v: Values) -> Case:
    end = end_of(v)
    return Case(
        "the new pod cannot pull its image",
        [_waiting(s, Track().absent(LEAD).hold(end - LEAD + 1, 1), end)],
        end,
        [({"namespace": s.namespace or ""}, 1)],
    )


def image_pull_quiet(s: Scope, v: Values) -> Case:
    end = end_of(v)
    episode = brief(v)
    if episode is None:
        return Case("every image pulled", [_waiting(s, Track().absent(end + 1), end)], end)
    return Case(
        f"a pull that failed for {number(episode)} min, then succeeded",
        [_waiting(s, Track().absent(LEAD).hold(episode, 1).stale(), end)],
        end,
    )


def _replicas(s: Scope, available: Track, end: int) -> list[tuple[str, list[float | str | None]]]:
    return [
        (ksm(s, "kube_deployment_spec_replicas", deployment=s.service), Track(2).until(end)),
        (ksm(s, "kube_deployment_status_replicas_available", deployment=s.service), available.until(end)),
    ]


def replicas_expr(s: Scope, v: Values) -> str:
    return (
        f"max by (namespace, deployment) (kube_deployment_spec_replicas{{{s.deployment}}})\n"
        f"  - max by (namespace, deployment) (kube_deployment_status_replicas_available{{{s.deployment}}})\n"
        "  >= 1"
    )


def replicas_firing(s: Scope, v: Values) -> Case:
    end = end_of(v)
    return Case(
        "one of two replicas unavailable",
        _replicas(s, Track(2).hold(LEAD).hold(1, 1), end),
        end,
        [({"namespace": s.namespace or "", "deployment": s.service}, 1)],
    )


def replicas_quiet(s: Scope, v: Values) -> Case:
    end = end_of(v)
    episode = brief(v)
    if episode is None:
        return Case("every replica available", _replicas(s, Track(2), end), end)
    return Case(
        f"a rolling update: one replica down for {number(episode)} min",
        _replicas(s, Track(2).hold(LEAD).hold(episode, 1).hold(1, 2), end),
        end,
    )


def rollout_expr(s: Scope, v: Values) -> str:
    return (
        f"max by (namespace, deployment) (kube_deployment_status_replicas_updated{{{s.deployment}}})\n"
        "  and on (namespace, deployment)\n"
        f"max by (namespace, deployment) (kube_deployment_status_condition{{{s.deployment}, "
        'condition="Progressing", status="false"}) == 1'
    )


def _progressing(s: Scope, stuck: Track, end: int) -> list[tuple[str, list[float | str | None]]]:
    unstuck = [1 - x if isinstance(x, (int, float)) else x for x in stuck.until(end)]
    return [
        (ksm(s, "kube_deployment_status_replicas_updated", deployment=s.service), Track(1).until(end)),
        (
            ksm(
                s,
                "kube_deployment_status_condition",
                deployment=s.service,
                condition="Progressing",
                status="false",
            ),
            stuck.until(end),
        ),
        (
            ksm(
                s,
                "kube_deployment_status_condition",
                deployment=s.service,
                condition="Progressing",
                status="true",
            ),
            unstuck,
        ),
    ]


def rollout_firing(s: Scope, v: Values) -> Case:
    end = end_of(v)
    return Case(
        "the rollout passed its progress deadline",
        _progressing(s, Track(0).hold(LEAD).hold(1, 1), end),
        end,
        [({"namespace": s.namespace or "", "deployment": s.service}, 1)],
    )


def rollout_quiet(s: Scope, v: Values) -> Case:
    end = end_of(v)
    episode = brief(v)
    if episode is None:
        return Case("the rollout progresses", _progressing(s, Track(0), end), end)
    return Case(
        f"past the deadline for {number(episode)} min, then a new rollout progressed",
        _progressing(s, Track(0).hold(LEAD).hold(episode, 1).hold(1, 0), end),
        end,
    )


def oom_expr(s: Scope, v: Values) -> str:
    return (
        "max by (namespace, pod, container) "
        f"(increase(kube_pod_container_status_restarts_total{{{s.pods}}}[15m]))"
        f" >= {v.literal('restarts')}\n"
        "  and on (namespace, pod, container)\n"
        "max by (namespace, pod, container) (kube_pod_container_status_last_terminated_reason"
        f'{{{s.pods}, reason="OOMKilled"}}) == 1'
    )


def _oom(s: Scope, v: Values, reason: str) -> tuple[list[tuple[str, list[float | str | None]]], int, float]:
    count = int(v["restarts"])
    end = math.ceil(LEAD + count + v.for_min + 1)
    restarts = Track(0).hold(LEAD + 0.5)
    for _ in range(count):
        restarts.ramp(0.25, 1).hold(0.75)
    return (
        [
            (container(s, "kube_pod_container_status_restarts_total", "4e8a0d3c"), restarts.until(end)),
            (
                container(s, "kube_pod_container_status_last_terminated_reason", "4e8a0d3c", reason=reason),
                Track().absent(LEAD + 0.5).hold(1, 1).until(end),
            ),
        ],
        end,
        count,
    )


def oom_firing(s: Scope, v: Values) -> Case:
    series, end, count = _oom(s, v, "OOMKilled")
    return Case(
        "the container was OOM-killed",
        series,
        end,
        [({"namespace": s.namespace or "", "pod": s.pod, "container": s.service}, count)],
    )


def oom_quiet(s: Scope, v: Values) -> Case:
    series, end, _count = _oom(s, v, "Error")
    return Case("the same restarts, after an error exit rather than the OOM killer", series, end)


# -- service health: Spring Boot's Micrometer series --------------------------------------------
REQUESTS_PER_SAMPLE = 200  # 13 requests a second


def http(s: Scope, status: str, uri: str = "/orders") -> str:
    outcome = {"2": "SUCCESS", "4": "CLIENT_ERROR", "5": "SERVER_ERROR"}[status[0]]
    exception = "none" if status[0] != "5" else "DataAccessResourceFailureException"
    return scraped(
        s,
        "http_server_requests_seconds_count",
        method="GET",
        uri=uri,
        status=status,
        outcome=outcome,
        exception=exception,
        error=exception,
    )


def error_ratio(s: Scope) -> str:
    """The share of the service's own requests answered 5xx over 5 minutes (a line of PromQL each)."""
    return (
        f'sum by (namespace) (rate(http_server_requests_seconds_count{{{s.app}, status=~"5..", '
        f'uri!~"{UNCACHED}"}}[5m]))\n'
        f"  / sum by (namespace) (rate(http_server_requests_seconds_count{{{s.app}, "
        f'uri!~"{UNCACHED}"}}[5m]))\n'
    )


def error_ratio_expr(s: Scope, v: Values) -> str:
    return f"{error_ratio(s)}  > {v.literal('threshold')}"


def _errors_per_sample(threshold: float) -> int:
    """5xx per sample of :data:`REQUESTS_PER_SAMPLE` for a ratio clearly above ``threshold``."""
    return min(
        REQUESTS_PER_SAMPLE,
        max(math.ceil(2 * threshold * REQUESTS_PER_SAMPLE), math.floor(threshold * REQUESTS_PER_SAMPLE) + 1),
    )


def _traffic(s: Scope, errors: Track, end: int) -> list[tuple[str, list[float | str | None]]]:
    """Steady traffic: :data:`REQUESTS_PER_SAMPLE` requests a sample, of which ``errors`` answered 5xx."""
    error_values = errors.until(end)
    ok: list[float | str | None] = []
    total = 812_400.0
    previous = 1_520.0
    for value in error_values:
        assert isinstance(value, float | int)
        total += REQUESTS_PER_SAMPLE - (value - previous)
        previous = value
        ok.append(total)
    probes = Track(96_000).ramp(end + 0.25, 3).until(end)
    return [
        (http(s, "200"), ok),
        (http(s, "500"), error_values),
        (http(s, "200", "/actuator/health"), probes),
    ]


def error_ratio_firing(s: Scope, v: Values) -> Case:
    errors = _errors_per_sample(v["threshold"])
    end = end_of(v, settle=5)
    track = Track(1_520).hold(LEAD).ramp(end - LEAD + 1, errors)
    return Case(
        f"a sustained 5xx ratio of {number(errors / REQUESTS_PER_SAMPLE)}",
        _traffic(s, track, end),
        end,
        [({"namespace": s.namespace or ""}, errors / REQUESTS_PER_SAMPLE)],
    )


def error_ratio_quiet(s: Scope, v: Values) -> Case:
    """A one-minute spike whose errors stay under half the threshold over the rule's 5-minute window."""
    end = end_of(v, settle=5)
    budget = math.floor(v["threshold"] * REQUESTS_PER_SAMPLE * 5 * PER_MIN / 2)
    per_sample = min(REQUESTS_PER_SAMPLE, budget // PER_MIN)
    track = Track(1_520).hold(LEAD)
    if per_sample:
        track.ramp(1, per_sample)
    name = (
        f"a one-minute 5xx spike ({number(per_sample / REQUESTS_PER_SAMPLE)} of requests)"
        if per_sample
        else "no 5xx at all"
    )
    return Case(name, _traffic(s, track, end), end)


def latency_expr(s: Scope, v: Values) -> str:
    return (
        "histogram_quantile(0.95, sum by (namespace, le) (rate(http_server_requests_seconds_bucket"
        f'{{{s.app}, uri!~"{UNCACHED}"}}[5m])))\n'
        f"  > {v.literal('threshold')}"
    )


def _buckets(
    s: Scope, threshold: float, share_slow: Callable[[int], int], end: int
) -> list[tuple[str, list[float | str | None]]]:
    """Micrometer's cumulative buckets (a few of them) around the threshold; ``share_slow(sample)``
    of each sample's requests take between the threshold and twice it, the rest half to all of it."""
    bounds = [threshold / 4, threshold / 2, threshold, threshold * 2, threshold * 4]
    out = []
    for index, bound in enumerate([*bounds, math.inf]):
        values: list[float | str | None] = []
        count = 40_000.0 * (index + 1)
        for sample in range(end * PER_MIN + 1):
            slow = share_slow(sample)
            count += {0: 0, 1: 0, 2: REQUESTS_PER_SAMPLE - slow}.get(index, REQUESTS_PER_SAMPLE)
            values.append(count)
        le = "+Inf" if bound == math.inf else repr(float(bound))
        out.append(
            (
                scraped(
                    s,
                    "http_server_requests_seconds_bucket",
                    method="GET",
                    uri="/orders",
                    status="200",
                    outcome="SUCCESS",
                    exception="none",
                    error="none",
                    le=le,
                ),
                values,
            )
        )
    return out


def latency_firing(s: Scope, v: Values) -> Case:
    end = end_of(v, settle=5)
    threshold = v["threshold"]
    start = LEAD * PER_MIN
    series = _buckets(s, threshold, lambda sample: REQUESTS_PER_SAMPLE if sample > start else 0, end)
    return Case(
        "every request slower than the threshold",
        series,
        end,
        [({"namespace": s.namespace or ""}, threshold + threshold * 0.95)],
    )


def latency_quiet(s: Scope, v: Values) -> Case:
    end = end_of(v, settle=5)
    return Case(
        "4% of requests slower than the threshold",
        _buckets(s, v["threshold"], lambda _sample: REQUESTS_PER_SAMPLE * 4 // 100, end),
        end,
    )


HEAP_MAX = 1_073_741_824.0  # -Xmx1g: G1's old generation has the heap's maximum, eden and survivor -1


def _heap(
    s: Scope, ratios: list[tuple[float, float]], end: int
) -> tuple[list[tuple[str, list[float | str | None]]], float]:
    """Heap pools over time: (minutes, heap used / max) pieces; returns the series and the last ratio."""
    pools = {"G1 Eden Space": 0.05, "G1 Survivor Space": 0.01, "G1 Old Gen": 0.94}
    tracks = {name: Track() for name in pools}
    last = 0.0
    used_total = 0.0
    for minutes, ratio in ratios:
        used_total = round(ratio * HEAP_MAX)
        eden, survivor = round(used_total * 0.05), round(used_total * 0.01)
        for name, value in (
            ("G1 Eden Space", eden),
            ("G1 Survivor Space", survivor),
            ("G1 Old Gen", used_total - eden - survivor),
        ):
            tracks[name].hold(minutes, value)
        last = used_total / HEAP_MAX
    series = [
        (scraped(s, "jvm_memory_used_bytes", area="heap", id=name), tracks[name].until(end)) for name in pools
    ]
    series += [
        (
            scraped(s, "jvm_memory_max_bytes", area="heap", id=name),
            Track(HEAP_MAX if name == "G1 Old Gen" else -1).until(end),
        )
        for name in pools
    ]
    series.append(
        (scraped(s, "jvm_memory_used_bytes", area="nonheap", id="Metaspace"), Track(98_566_144).until(end))
    )
    return series, last


def heap_expr(s: Scope, v: Values) -> str:
    return (
        f'sum by (namespace, pod) (jvm_memory_used_bytes{{{s.app}, area="heap"}})\n'
        f'  / sum by (namespace, pod) (jvm_memory_max_bytes{{{s.app}, area="heap"}} > 0)\n'
        f"  > {v.literal('threshold')}"
    )


def heap_firing(s: Scope, v: Values) -> Case:
    end = end_of(v)
    high = (1 + v["threshold"]) / 2
    series, last = _heap(s, [(LEAD, v["threshold"] / 2), (end - LEAD + 1, high)], end)
    return Case(
        f"the heap held at {number(round(high, 4))} of its maximum",
        series,
        end,
        [({"namespace": s.namespace or "", "pod": s.pod}, last)],
    )


def heap_quiet(s: Scope, v: Values) -> Case:
    end = end_of(v)
    episode = brief(v)
    low = v["threshold"] / 2
    if episode is None:
        series, _ = _heap(s, [(end + 1, low)], end)
        return Case("the heap well under the threshold", series, end)
    high = (1 + v["threshold"]) / 2
    series, _ = _heap(s, [(LEAD, low), (episode, high), (end, low)], end)
    return Case(f"the heap above the threshold for {number(episode)} min, then collected", series, end)


def gc_expr(s: Scope, v: Values) -> str:
    return f"max by (namespace, pod) (jvm_gc_pause_seconds_max{{{s.app}}}) > {v.literal('threshold')}"


def _gc(s: Scope, major: Track, end: int) -> list[tuple[str, list[float | str | None]]]:
    return [
        (
            scraped(
                s,
                "jvm_gc_pause_seconds_max",
                action="end of minor GC",
                cause="G1 Evacuation Pause",
                gc="G1 Young Generation",
            ),
            Track(0.012).until(end),
        ),
        (
            scraped(
                s,
                "jvm_gc_pause_seconds_max",
                action="end of major GC",
                cause="G1 Compaction Pause",
                gc="G1 Old Generation",
            ),
            major.until(end),
        ),
    ]


def gc_firing(s: Scope, v: Values) -> Case:
    end = end_of(v)
    pause = 2 * v["threshold"]
    return Case(
        "long major GC pauses, again and again",
        _gc(s, Track(0).hold(LEAD).hold(1, pause), end),
        end,
        [({"namespace": s.namespace or "", "pod": s.pod}, pause)],
    )


def gc_quiet(s: Scope, v: Values) -> Case:
    end = end_of(v)
    episode = brief(v, cap_min=2)  # Micrometer's max decays within about two minutes
    if episode is None:
        return Case("short pauses only", _gc(s, Track(0), end), end)
    return Case(
        "a single long pause",
        _gc(s, Track(0).hold(LEAD).hold(episode, 2 * v["threshold"]).hold(1, 0), end),
        end,
    )


# -- delivery: Argo CD and pipekit's DORA series ------------------------------------------------
def app_info(s: Scope, sync: str = "Synced", health: str = "Healthy") -> str:
    return labelled(
        "argocd_app_info",
        namespace="argocd",
        name=s.app_name,
        project=s.service,
        autosync_enabled="true",
        repo="https://bitbucket.org/acme/gitops",
        dest_server="https://kubernetes.default.svc",
        dest_namespace=s.namespace or "",
        sync_status=sync,
        health_status=health,
        operation="",
    )


def out_of_sync_expr(s: Scope, v: Values) -> str:
    return (
        f"max by (name, dest_namespace, sync_status) (argocd_app_info{{{s.argocd}, "
        'sync_status="OutOfSync"}) == 1'
    )


def _app_states(
    s: Scope, bad: float | None, end: int, **state: str
) -> list[tuple[str, list[float | str | None]]]:
    """Argo CD's info series: good, then (for ``bad`` minutes, or to the end) the state in ``state``."""
    good = Track().hold(LEAD, 1)
    broken = Track().absent(LEAD)
    if bad is None:
        good.hold(end, 1)
        return [(app_info(s), good.until(end))]
    good.stale()
    if bad == math.inf:
        broken.hold(end - LEAD + 1, 1)
    else:
        broken.hold(bad, 1).stale()
        good.absent(bad).hold(end, 1)
    return [(app_info(s), good.until(end)), (app_info(s, **state), broken.until(end))]


def out_of_sync_firing(s: Scope, v: Values) -> Case:
    end = end_of(v)
    return Case(
        "OutOfSync and not synced",
        _app_states(s, math.inf, end, sync="OutOfSync"),
        end,
        [({"name": s.app_name, "dest_namespace": s.namespace or "", "sync_status": "OutOfSync"}, 1)],
    )


def out_of_sync_quiet(s: Scope, v: Values) -> Case:
    end = end_of(v)
    episode = brief(v, cap_min=3)
    name = f"OutOfSync for {number(episode)} min after a push, then synced" if episode else "always Synced"
    return Case(name, _app_states(s, episode, end, sync="OutOfSync"), end)


def degraded_expr(s: Scope, v: Values) -> str:
    return (
        f"max by (name, dest_namespace, health_status) (argocd_app_info{{{s.argocd}, "
        'health_status="Degraded"}) == 1'
    )


def degraded_firing(s: Scope, v: Values) -> Case:
    end = end_of(v)
    return Case(
        "Degraded and staying so",
        _app_states(s, math.inf, end, health="Degraded"),
        end,
        [({"name": s.app_name, "dest_namespace": s.namespace or "", "health_status": "Degraded"}, 1)],
    )


def degraded_quiet(s: Scope, v: Values) -> Case:
    end = end_of(v)
    episode = brief(v)
    name = (
        f"Degraded for {number(episode)} min during a rollout, then Healthy" if episode else "always Healthy"
    )
    return Case(name, _app_states(s, episode, end, health="Degraded"), end)


def sync_failed_expr(s: Scope, v: Values) -> str:
    failed = f'argocd_app_sync_total{{{s.argocd}, phase=~"Error|Failed"}}'
    return (
        "sum by (name) (\n"
        f"  (increase({failed}[15m]) > 0)\n"
        f"  or ({failed} unless {failed} offset 15m)\n"
        ") >= 1"
    )


def _syncs(s: Scope, phase: str) -> str:
    return labelled(
        "argocd_app_sync_total",
        namespace="argocd",
        name=s.app_name,
        project=s.service,
        dest_server="https://kubernetes.default.svc",
        phase=phase,
    )


SYNC_LEAD = 20  # minutes: a failure older than the rule's 15-minute look-back in the quiet case


def _succeeded(end: int) -> Track:
    track = Track(41)
    for _ in range(math.ceil(end / 3) + 1):
        track.hold(2.75).ramp(0.25, 1)
    return track


def sync_failed_firing(s: Scope, v: Values) -> Case:
    end = math.ceil(SYNC_LEAD + 1 + v.for_min)
    return Case(
        "the first failed sync",
        [
            (_syncs(s, "Succeeded"), _succeeded(end).until(end)),
            (_syncs(s, "Failed"), Track().absent(SYNC_LEAD).hold(1, 1).until(end)),
        ],
        end,
        [({"name": s.app_name}, 1)],
    )


def sync_failed_quiet(s: Scope, v: Values) -> Case:
    end = math.ceil(SYNC_LEAD + 1 + v.for_min)
    return Case(
        "syncs succeed; the one failure is long past",
        [
            (_syncs(s, "Succeeded"), _succeeded(end).until(end)),
            (_syncs(s, "Failed"), Track(1).until(end)),
        ],
        end,
    )


def dora(s: Scope, metric: str) -> str:
    return labelled(metric, job="pipekit_dora", service=s.service, environment=s.environment or "")


def change_fail_expr(s: Scope, v: Values) -> str:
    return (
        f"max by (service, environment) (pipekit_dora_change_fail_rate{{{s.pipekit}}}) "
        f"> {v.literal('threshold')}\n"
        "  and on (service, environment)\n"
        f"max by (service, environment) (pipekit_dora_deployments{{{s.pipekit}}}) "
        f">= {v.literal('deployments')}"
    )


def _dora_rate(
    s: Scope, v: Values, deployments: float
) -> tuple[list[tuple[str, list[float | str | None]]], int, float]:
    end = end_of(v)
    rate = min(1.0, 2 * v["threshold"])
    failed = math.ceil(rate * deployments)
    rate = failed / deployments
    return (
        [
            (dora(s, "pipekit_dora_change_fail_rate"), Track(rate).until(end)),
            (dora(s, "pipekit_dora_deployments"), Track(deployments).until(end)),
            (dora(s, "pipekit_dora_failed_deployments"), Track(failed).until(end)),
        ],
        end,
        rate,
    )


def change_fail_firing(s: Scope, v: Values) -> Case:
    deployments = max(20.0, v["deployments"])
    series, end, rate = _dora_rate(s, v, deployments)
    return Case(
        f"{number(rate)} of {number(deployments)} deployments failed",
        series,
        end,
        [({"service": s.service, "environment": s.environment or ""}, rate)],
    )


def change_fail_quiet(s: Scope, v: Values) -> Case:
    if v["deployments"] <= 1:
        end = end_of(v)
        return Case(
            "no DORA series pushed",
            [(dora(s, "pipekit_dora_deployments"), Track().absent(end + 1).until(end))],
            end,
        )
    few = v["deployments"] - 1
    series, end, _rate = _dora_rate(s, v, few)
    return Case(f"a high rate over only {number(few)} deployments", series, end)


def not_recovered_expr(s: Scope, v: Values) -> str:
    return (
        "time() - max by (service, environment) "
        f"(pipekit_dora_oldest_unrecovered_failure_timestamp_seconds{{{s.pipekit}}}) > {number(v['after'])}"
    )


def not_recovered_firing(s: Scope, v: Values) -> Case:
    end = end_of(v)
    opened = -(v["after"] + 600)  # ten minutes more than the limit before the case starts
    return Case(
        "an incident open for longer than the limit",
        [(dora(s, "pipekit_dora_oldest_unrecovered_failure_timestamp_seconds"), Track(opened).until(end))],
        end,
        [({"service": s.service, "environment": s.environment or ""}, end * 60 - opened)],
    )


def not_recovered_quiet(s: Scope, v: Values) -> Case:
    end = end_of(v)
    opened = end * 60 - v["after"] / 2
    return Case(
        "an incident open for half the limit",
        [(dora(s, "pipekit_dora_oldest_unrecovered_failure_timestamp_seconds"), Track(opened).until(end))],
        end,
    )


# -- after a deploy: the deploy marker pipekit notify pushes ------------------------------------
TAG = "1.4.2-3f2a9c1"
OLD_TAG = "1.4.1-9b0c4de"


def marker(s: Scope, tag: str) -> str:
    return labelled(
        "pipekit_deploy_timestamp_seconds",
        job="pipekit_deploy",
        service=s.service,
        environment=s.environment or "",
        tag=tag,
    )


def _recent_deploy(s: Scope, v: Values) -> str:
    return (
        f"(time() - max by (tag) (pipekit_deploy_timestamp_seconds{{{s.pipekit}}}) "
        f"< bool {number(v['within'])})"
    )


def _deploys(s: Scope, deployed_at_min: float, end: int) -> list[tuple[str, list[float | str | None]]]:
    """The marker: the earlier deploy's until ``deployed_at_min``, then the new one's (a Pushgateway PUT)."""
    if deployed_at_min <= 0:
        return [(marker(s, TAG), Track(deployed_at_min * 60).until(end))]
    before = Track().hold(deployed_at_min, -86_400).stale()
    after = Track().absent(deployed_at_min).hold(end, deployed_at_min * 60)
    return [(marker(s, OLD_TAG), before.until(end)), (marker(s, TAG), after.until(end))]


def errors_after_expr(s: Scope, v: Values) -> str:
    return f"{error_ratio(s)}  * on () group_left (tag) {_recent_deploy(s, v)}\n  > {v.literal('threshold')}"


def _after(v: Values) -> int:
    return math.ceil(LEAD + 1 + 5 + v.for_min + 1)


def errors_after_firing(s: Scope, v: Values) -> Case:
    end = _after(v)
    errors = _errors_per_sample(v["threshold"])
    track = Track(1_520).hold(LEAD + 1).ramp(end, errors)
    return Case(
        "5xx right after the deploy",
        _traffic(s, track, end) + _deploys(s, LEAD, end),
        end,
        [({"namespace": s.namespace or "", "tag": TAG}, errors / REQUESTS_PER_SAMPLE)],
    )


def _long_after(v: Values) -> int:
    """Minutes after a deploy that are well past the after-deploy window."""
    return math.ceil(v["within"] / 60) + 25


def errors_after_quiet(s: Scope, v: Values) -> Case:
    end = _after(v)
    errors = _errors_per_sample(v["threshold"])
    track = Track(1_520).hold(LEAD + 1).ramp(end, errors)
    return Case(
        f"the same 5xx, {_long_after(v)} minutes after the deploy",
        _traffic(s, track, end) + _deploys(s, end - _long_after(v), end),
        end,
    )


def restarts_after_expr(s: Scope, v: Values) -> str:
    return (
        "sum by (namespace) (max by (namespace, pod, container) "
        "(increase(kube_pod_container_status_restarts_total"
        f"{{{s.pods}}}[{_window(v)}])))\n"
        f"  * on () group_left (tag) {_recent_deploy(s, v)}\n"
        f"  >= {v.literal('restarts')}"
    )


def _window(v: Values) -> str:
    return v.text["within"]


def _restarting(
    s: Scope, v: Values, deployed_at_min: float
) -> tuple[list[tuple[str, list[float | str | None]]], int]:
    count = int(v["restarts"])
    end = math.ceil(LEAD + 1 + count + v.for_min + 1)
    restarts = Track().absent(LEAD).hold(1.5, 0)  # the new pod starts with the deploy
    for _ in range(count):
        restarts.ramp(0.25, 1).hold(0.75)
    series = [
        (
            container(
                s, "kube_pod_container_status_restarts_total", "0a7e3b51", pod=f"{s.service}-5f6b7c8d9e-q4w7k"
            ),
            restarts.until(end),
        )
    ]
    return series + _deploys(s, deployed_at_min, end), end


def restarts_after_firing(s: Scope, v: Values) -> Case:
    series, end = _restarting(s, v, LEAD)
    return Case(
        "the new pod restarts right after the deploy",
        series,
        end,
        [({"namespace": s.namespace or "", "tag": TAG}, v["restarts"])],
    )


def restarts_after_quiet(s: Scope, v: Values) -> Case:
    series, end = _restarting(s, v, 0)
    series = [series[0], (marker(s, TAG), Track((end - _long_after(v)) * 60).until(end))]
    return Case(f"the same restarts, {_long_after(v)} minutes after the deploy", series, end)


# -- the catalogue -------------------------------------------------------------------------------
ROLLBACK = "pipekit rollback --service {service} --env {environment}"
FOR = "for"

ALERTS: tuple[Alert, ...] = (
    Alert(
        "crash_looping",
        "PodCrashLooping",
        "workload",
        "kube-state-metrics",
        ("kube_pod_container_status_restarts_total", "kube_pod_container_status_waiting_reason"),
        (Param("restarts", "count", "3", "restarts in 15 minutes, in CrashLoopBackOff"),),
        "10m",
        "{{ $labels.pod }} is crash-looping",
        'Container {{ $labels.container }} of {{ $labels.pod }} restarted {{ printf "%.0f" $value }} times '
        "in the last 15 minutes and is in CrashLoopBackOff.",
        "Read the previous container's log (`kubectl -n {namespace} logs <pod> -c {service} --previous`) and "
        "its events (`kubectl -n {namespace} describe pod <pod>`). If the crash started with a deploy, roll "
        "back: `" + ROLLBACK + "`.",
        crash_looping_expr,
        crash_looping_firing,
        crash_looping_quiet,
    ),
    Alert(
        "image_pull_failing",
        "ImagePullFailing",
        "workload",
        "kube-state-metrics",
        ("kube_pod_container_status_waiting_reason",),
        (),
        "10m",
        "{{ $labels.namespace }}: containers cannot pull their image",
        '{{ printf "%.0f" $value }} container(s) of the service wait in ErrImagePull or ImagePullBackOff.',
        "Check that the tag in the overlay exists in the registry (`pipekit history --service {service} "
        "--env {environment}`) and that the nodes may pull from it "
        "(ECR pull permissions, image pull secret).",
        image_pull_expr,
        image_pull_firing,
        image_pull_quiet,
    ),
    Alert(
        "replicas_unavailable",
        "ReplicasUnavailable",
        "workload",
        "kube-state-metrics",
        ("kube_deployment_spec_replicas", "kube_deployment_status_replicas_available"),
        (),
        "15m",
        "{{ $labels.deployment }} has unavailable replicas",
        '{{ printf "%.0f" $value }} of the desired replicas of {{ $labels.deployment }} are not available.',
        "`kubectl -n {namespace} get pods -l app.kubernetes.io/name={service}`: pending pods point at "
        "capacity or quota, unready ones at failing readiness probes "
        "(`kubectl -n {namespace} describe pod`).",
        replicas_expr,
        replicas_firing,
        replicas_quiet,
    ),
    Alert(
        "rollout_stuck",
        "RolloutStuck",
        "workload",
        "kube-state-metrics",
        ("kube_deployment_status_condition", "kube_deployment_status_replicas_updated"),
        (),
        "5m",
        "the rollout of {{ $labels.deployment }} is stuck",
        "The rollout of {{ $labels.deployment }} passed its progress deadline with "
        '{{ printf "%.0f" $value }} replica(s) updated.',
        "`kubectl -n {namespace} rollout status deployment/{service}` and the new pods' events say what "
        "holds it; roll back with `" + ROLLBACK + "` while you look.",
        rollout_expr,
        rollout_firing,
        rollout_quiet,
    ),
    Alert(
        "oom_killed",
        "ContainerOOMKilled",
        "workload",
        "kube-state-metrics",
        ("kube_pod_container_status_restarts_total", "kube_pod_container_status_last_terminated_reason"),
        (Param("restarts", "count", "1", "restarts in 15 minutes after the OOM killer"),),
        "0s",
        "{{ $labels.pod }} was OOM-killed",
        "Container {{ $labels.container }} of {{ $labels.pod }} was killed for exceeding its memory limit "
        '({{ printf "%.0f" $value }} restart(s) in the last 15 minutes).',
        "Compare the container's memory limit with the JVM's heap and off-heap use (JvmHeapNearMax, "
        "`jvm_memory_used_bytes`); raise the limit or lower -Xmx / MaxRAMPercentage in the Deployment.",
        oom_expr,
        oom_firing,
        oom_quiet,
    ),
    Alert(
        "error_ratio",
        "HighErrorRatio",
        "service",
        "Micrometer",
        ("http_server_requests_seconds_count",),
        (Param("threshold", "ratio", "0.05", "share of requests answered 5xx, over 5 minutes"),),
        "10m",
        "{{ $labels.namespace }}: high 5xx ratio",
        "{{ $value | humanizePercentage }} of the service's requests answered 5xx over the last 5 minutes.",
        "Find the failing endpoints (`http_server_requests_seconds_count` by `uri`, `exception`) and the "
        "log. A deploy in the last hour is the first suspect: `pipekit history --service {service} --env "
        "{environment}`, then `" + ROLLBACK + "`.",
        error_ratio_expr,
        error_ratio_firing,
        error_ratio_quiet,
        prod=(("threshold", "0.02"), (FOR, "5m")),
    ),
    Alert(
        "latency_p95",
        "HighLatencyP95",
        "service",
        "Micrometer",
        ("http_server_requests_seconds_bucket",),
        (Param("threshold", "seconds", "1", "95th percentile of request duration, seconds"),),
        "15m",
        "{{ $labels.namespace }}: slow requests",
        "The 95th percentile of request duration is {{ $value | humanizeDuration }} over the last 5 minutes.",
        "Look for the slow endpoints (`http_server_requests_seconds_bucket` by `uri`), downstream latency, "
        "GC pauses (LongGcPauses) and CPU throttling. Needs the histogram init turns on "
        "(the MANAGEMENT_METRICS_DISTRIBUTION_PERCENTILESHISTOGRAM_HTTP_SERVER_REQUESTS "
        "variable in the Deployment).",
        latency_expr,
        latency_firing,
        latency_quiet,
        prod=((FOR, "10m"),),
    ),
    Alert(
        "heap_usage",
        "JvmHeapNearMax",
        "service",
        "Micrometer",
        ("jvm_memory_used_bytes", "jvm_memory_max_bytes"),
        (Param("threshold", "ratio", "0.9", "heap used / heap maximum"),),
        "15m",
        "{{ $labels.pod }}: JVM heap near its maximum",
        "The JVM heap of {{ $labels.pod }} is {{ $value | humanizePercentage }} full.",
        "A heap that stays full after collections is a leak or an undersized heap: take a heap dump "
        "(`kubectl -n {namespace} exec <pod> -- jcmd 1 GC.heap_dump /tmp/heap.hprof`) and compare -Xmx with "
        "the container's memory limit.",
        heap_expr,
        heap_firing,
        heap_quiet,
    ),
    Alert(
        "gc_pause",
        "LongGcPauses",
        "service",
        "Micrometer",
        ("jvm_gc_pause_seconds_max",),
        (Param("threshold", "seconds", "0.5", "longest GC pause in Micrometer's window, seconds"),),
        "10m",
        "{{ $labels.pod }}: long GC pauses",
        "{{ $labels.pod }} keeps pausing for garbage collection, up to {{ $value | humanizeDuration }}.",
        "Long pauses again and again come with a nearly full heap (JvmHeapNearMax) or too little CPU for the "
        "collector: check both before tuning the collector.",
        gc_expr,
        gc_firing,
        gc_quiet,
    ),
    Alert(
        "argocd_out_of_sync",
        "ArgoCdAppOutOfSync",
        "delivery",
        "Argo CD",
        ("argocd_app_info",),
        (),
        "15m",
        "{{ $labels.name }} is not synced",
        "Argo CD application {{ $labels.name }} has been {{ $labels.sync_status }} for longer than expected: "
        "what runs is not what the GitOps repository says.",
        "`argocd app diff {service}-{environment}` shows the drift; a failing sync (ArgoCdSyncFailed) or a "
        "manual change in the cluster are the usual causes. `pipekit status` shows what runs where.",
        out_of_sync_expr,
        out_of_sync_firing,
        out_of_sync_quiet,
    ),
    Alert(
        "argocd_degraded",
        "ArgoCdAppDegraded",
        "delivery",
        "Argo CD",
        ("argocd_app_info",),
        (),
        "10m",
        "{{ $labels.name }} is Degraded",
        "Argo CD reports application {{ $labels.name }} as {{ $labels.health_status }}.",
        "`argocd app get {service}-{environment}` names the unhealthy resources; the workload alerts of the "
        "same environment usually say why. Roll back with `" + ROLLBACK + "` if a deploy caused it.",
        degraded_expr,
        degraded_firing,
        degraded_quiet,
    ),
    Alert(
        "argocd_sync_failed",
        "ArgoCdSyncFailed",
        "delivery",
        "Argo CD",
        ("argocd_app_sync_total",),
        (),
        "0s",
        "{{ $labels.name }}: sync failed",
        '{{ printf "%.0f" $value }} sync(s) of {{ $labels.name }} failed in the last 15 minutes.',
        "`argocd app get {service}-{environment}` shows the failed operation's message (an invalid manifest, "
        "a missing CRD, an admission webhook refusing a resource); fix the overlay or roll back.",
        sync_failed_expr,
        sync_failed_firing,
        sync_failed_quiet,
    ),
    Alert(
        "change_fail_rate",
        "DoraChangeFailRateHigh",
        "delivery",
        "pipekit dora",
        ("pipekit_dora_change_fail_rate", "pipekit_dora_deployments"),
        (
            Param("threshold", "ratio", "0.15", "failed deployments / deployments"),
            Param("deployments", "count", "5", "fewest deployments in the range to judge"),
        ),
        "1h",
        "{{ $labels.service }}: high change fail rate in {{ $labels.environment }}",
        "{{ $value | humanizePercentage }} of the service's deployments needed a "
        "rollback, revert or incident.",
        "`pipekit dora --service {service} --env {environment}` and `pipekit history --service {service}` "
        "show which deployments failed; look for a common cause (tests that miss it, a risky area).",
        change_fail_expr,
        change_fail_firing,
        change_fail_quiet,
        severity="warning",
    ),
    Alert(
        "not_recovered",
        "DoraFailedDeploymentNotRecovered",
        "delivery",
        "pipekit dora",
        ("pipekit_dora_oldest_unrecovered_failure_timestamp_seconds",),
        (Param("after", "duration", "1d", "how long an incident may stay open"),),
        "15m",
        "{{ $labels.service }}: a failed deployment is not recovered",
        "An incident on the service in {{ $labels.environment }} has been open for "
        "{{ $value | humanizeDuration }}.",
        "Recover first: `" + ROLLBACK + "` puts the previous image back; then resolve the incident in the "
        "incidents file dora reads.",
        not_recovered_expr,
        not_recovered_firing,
        not_recovered_quiet,
    ),
    Alert(
        "errors_after_deploy",
        "ErrorsAfterDeploy",
        "after-deploy",
        "Micrometer + pipekit notify",
        ("http_server_requests_seconds_count", "pipekit_deploy_timestamp_seconds"),
        (
            Param("threshold", "ratio", "0.02", "share of requests answered 5xx, over 5 minutes"),
            Param("within", "duration", "15m", "how long after a deploy"),
        ),
        "2m",
        "{{ $labels.namespace }}: 5xx after deploying {{ $labels.tag }}",
        "{{ $value | humanizePercentage }} of requests answered 5xx within {within} of deploying "
        "{{ $labels.tag }}. Roll back: " + ROLLBACK,
        "The deploy is the first suspect: roll back at once (`" + ROLLBACK + "`), then compare the release "
        "with the one before (`pipekit history --service {service} --env {environment}`).",
        errors_after_expr,
        errors_after_firing,
        errors_after_quiet,
    ),
    Alert(
        "restarts_after_deploy",
        "RestartsAfterDeploy",
        "after-deploy",
        "kube-state-metrics + pipekit notify",
        ("kube_pod_container_status_restarts_total", "pipekit_deploy_timestamp_seconds"),
        (
            Param("restarts", "count", "2", "restarts of the service's containers"),
            Param("within", "duration", "15m", "how long after a deploy"),
        ),
        "0s",
        "{{ $labels.namespace }}: restarts after deploying {{ $labels.tag }}",
        'The service\'s containers restarted {{ printf "%.0f" $value }} times within {within} of deploying '
        "{{ $labels.tag }}. Roll back: " + ROLLBACK,
        "A new release that restarts is usually a bad configuration or a failing startup: roll back "
        "(`" + ROLLBACK + "`) and read the previous container's log.",
        restarts_after_expr,
        restarts_after_firing,
        restarts_after_quiet,
    ),
)
BY_KEY = {a.key: a for a in ALERTS}
BY_NAME = {a.name: a for a in ALERTS}
GROUPS = ("workload", "service", "delivery", "after-deploy")
