"""The load generator: open loop (a schedule of arrivals) and closed loop (N connections).

Open loop: every request has an INTENDED send time from the schedule (fixed rate, linear ramp,
or a burst of N at one instant) and its latency is counted from that time, not from when it was
actually written. A target that stalls therefore shows the stall in every request that should
have been sent meanwhile (no coordinated omission); a closed loop, whose clients wait for each
answer before sending the next, sends nothing during a stall and so hides it.

The generator measures itself too: the lag between a request's intended time and the moment
its task started (the event loop's own lateness). When more than 1 % of requests are later
than `lag_threshold`, the run is flagged saturated: its figures then describe the generator,
not the target.

HTTP/1.1 keep-alive over asyncio streams; responses with Content-Length, chunked, or close.
Everything is bounded: by the schedule's length, `max_requests`, and each request's timeout.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from loadtests.hdr import Histogram

LOOPBACK_NAMES = ("localhost",)


class RemoteTargetError(ValueError):
    """A target outside loopback without an explicit allowance."""


@dataclass(frozen=True)
class Target:
    address: str  # where to connect
    port: int
    host: str  # the Host header
    path: str = "/"
    timeout: float = 30.0
    revision_header: str | None = None  # a response header naming the revision, if any

    @classmethod
    def from_url(
        cls,
        url: str,
        host: str | None = None,
        *,
        path: str | None = None,
        timeout: float = 30.0,
        revision_header: str | None = None,
        allow_remote: bool = False,
    ) -> Target:
        parts = urlsplit(url)
        if parts.scheme != "http" or not parts.hostname:
            raise ValueError(f"target {url!r}: expected http://HOST[:PORT][/PATH]")
        if not allow_remote and not is_loopback(parts.hostname):
            raise RemoteTargetError(
                f"target {parts.hostname} is not loopback (127.0.0.0/8, ::1, localhost);"
                " pass --allow-remote to load it anyway"
            )
        address = "127.0.0.1" if parts.hostname == "localhost" else parts.hostname
        request_path = path or (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        return cls(
            address,
            parts.port or 80,
            host or parts.netloc,
            request_path,
            timeout,
            revision_header,
        )


def is_loopback(hostname: str) -> bool:
    if hostname.lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(hostname.strip("[]")).is_loopback
    except ValueError:
        return False


# ---------------------------------------------------------------------------------------------
# Schedules.


@dataclass(frozen=True)
class Phase:
    """One stretch of load: `seconds` long at `rate` req/s (to `rate_to`, linearly, if given),
    or `burst` requests all at the phase's start; for closed loop, `concurrency` connections."""

    seconds: float
    rate: float = 0.0
    rate_to: float | None = None
    burst: int = 0
    concurrency: int = 0


def arrivals(phases: Sequence[Phase], max_requests: int) -> list[float]:
    """Intended send offsets (seconds from the start) for an open-loop schedule."""
    times: list[float] = []
    start = 0.0
    for phase in phases:
        times.extend([start] * phase.burst)
        end = start + phase.seconds
        rate_to = phase.rate if phase.rate_to is None else phase.rate_to
        t = start
        while len(times) < max_requests:
            fraction = (t - start) / phase.seconds if phase.seconds > 0 else 1.0
            rate = phase.rate + (rate_to - phase.rate) * fraction
            if rate <= 0:
                # a ramp from zero: step to where the rate reaches one request per second
                slope = (rate_to - phase.rate) / phase.seconds if phase.seconds > 0 else 0.0
                if slope <= 0:
                    break
                t += max(1e-3, (1.0 - rate) / slope)
                continue
            if t >= end - 1e-9:  # summed steps drift; the last one may land a hair short
                break
            times.append(t)
            t += 1.0 / rate
        start = end
    return times[:max_requests]


# ---------------------------------------------------------------------------------------------
# Recording.


@dataclass
class Second:
    offered: int = 0
    completed: int = 0
    ok: int = 0
    by_status: dict[str, int] = field(default_factory=dict)
    by_kind: dict[str, int] = field(default_factory=dict)
    latency: Histogram = field(default_factory=Histogram)
    lag_max: float = 0.0


@dataclass
class Recorder:
    """Outcomes by second of the run: offered by intended time, the rest by completion time."""

    start: float = field(default_factory=time.perf_counter)
    lag_threshold: float = 0.05
    seconds: dict[int, Second] = field(default_factory=dict)
    latency: Histogram = field(default_factory=Histogram)
    ttfb: Histogram = field(default_factory=Histogram)
    lag: Histogram = field(default_factory=Histogram)
    late: int = 0
    revisions: dict[str, int] = field(default_factory=dict)
    first_error: str | None = None
    last_done: float = 0.0

    def _second(self, at: float) -> Second:
        index = max(0, int(at - self.start))
        found = self.seconds.get(index)
        if found is None:
            found = self.seconds[index] = Second()
        return found

    def offered(self, intended: float, started: float) -> None:
        second = self._second(intended)
        second.offered += 1
        lag = max(0.0, started - intended)
        self.lag.record(lag)
        second.lag_max = max(second.lag_max, lag)
        if lag > self.lag_threshold:
            self.late += 1

    def outcome(self, outcome: Outcome, measured_from: float) -> None:
        second = self._second(outcome.done)
        second.completed += 1
        self.last_done = max(self.last_done, outcome.done)
        if outcome.kind is not None:
            second.by_kind[outcome.kind] = second.by_kind.get(outcome.kind, 0) + 1
            self.first_error = self.first_error or outcome.detail
            return
        latency = outcome.done - measured_from
        second.latency.record(latency)
        self.latency.record(latency)
        self.ttfb.record(outcome.first_byte - measured_from)
        if 200 <= outcome.status < 400:
            second.ok += 1
        else:
            key = str(outcome.status)
            second.by_status[key] = second.by_status.get(key, 0) + 1
            self.first_error = self.first_error or f"HTTP {outcome.status}"
        if outcome.revision:
            self.revisions[outcome.revision] = self.revisions.get(outcome.revision, 0) + 1

    @property
    def saturated(self) -> bool:
        return self.lag.count > 0 and self.late > 0.01 * self.lag.count

    def totals(self) -> dict[str, object]:
        by_status: dict[str, int] = {}
        by_kind: dict[str, int] = {}
        offered = completed = ok = 0
        for second in self.seconds.values():
            offered += second.offered
            completed += second.completed
            ok += second.ok
            for key, n in second.by_status.items():
                by_status[key] = by_status.get(key, 0) + n
            for key, n in second.by_kind.items():
                by_kind[key] = by_kind.get(key, 0) + n
        return {
            "sent": offered,
            "completed": completed,
            "ok": ok,
            "errors": completed - ok,
            "errors_by_status": by_status,
            "errors_by_kind": by_kind,
        }


# ---------------------------------------------------------------------------------------------
# HTTP.


@dataclass(frozen=True)
class Outcome:
    done: float
    first_byte: float = math.nan
    status: int = 0
    kind: str | None = None  # connect | timeout | reset, for requests without an HTTP answer
    detail: str = ""
    revision: str = ""


class _Conn:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    def close(self) -> None:
        self.writer.close()


@dataclass
class Client:
    """A keep-alive connection pool to one target, at most `max_connections` open."""

    target: Target
    max_connections: int = 1000
    idle: list[_Conn] = field(default_factory=list)
    open: int = 0
    waits: int = 0  # requests that waited for a free connection (the target is slower than the rate)
    retries: int = 0  # requests sent again because their kept-alive connection had been closed
    _freed: asyncio.Condition = field(default_factory=asyncio.Condition)

    def _payload(self) -> bytes:
        t = self.target
        return f"GET {t.path} HTTP/1.1\r\nHost: {t.host}\r\nUser-Agent: kwake-loadtests\r\n\r\n".encode()

    async def _acquire(self) -> _Conn | None:
        async with self._freed:
            if not self.idle and self.open >= self.max_connections:
                self.waits += 1
            while not self.idle and self.open >= self.max_connections:
                await self._freed.wait()
            if self.idle:
                return self.idle.pop()
            self.open += 1
            return None

    async def _release(self, conn: _Conn | None) -> None:
        async with self._freed:
            if conn is None:
                self.open -= 1
            else:
                self.idle.append(conn)
            self._freed.notify()

    async def request(self) -> Outcome:
        """One GET; never raises for the target's failures, an Outcome says what happened."""
        try:
            async with asyncio.timeout(self.target.timeout):
                conn = await self._acquire()
                reused = conn is not None
                if conn is None:
                    try:
                        conn = await self._connect()
                    except OSError as exc:
                        await self._release(None)
                        return Outcome(time.perf_counter(), kind="connect", detail=f"connect: {exc}")
                try:
                    outcome, keep = await self._exchange(conn)
                except (ConnectionError, asyncio.IncompleteReadError) as exc:
                    conn.close()
                    if not reused or (isinstance(exc, asyncio.IncompleteReadError) and exc.partial):
                        await self._release(None)
                        raise
                    # A kept-alive connection the server closed meanwhile: as a browser does for
                    # a GET, send again once on a new connection rather than count an error.
                    self.retries += 1
                    try:
                        conn = await self._connect()
                    except OSError as again:
                        await self._release(None)
                        return Outcome(time.perf_counter(), kind="connect", detail=f"connect: {again}")
                    try:
                        outcome, keep = await self._exchange(conn)
                    except BaseException:
                        conn.close()
                        await self._release(None)
                        raise
                except BaseException:
                    conn.close()
                    await self._release(None)
                    raise
                if keep:
                    await self._release(conn)
                else:
                    conn.close()
                    await self._release(None)
                return outcome
        except TimeoutError:
            return Outcome(
                time.perf_counter(), kind="timeout", detail=f"timeout after {self.target.timeout}s"
            )
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError) as exc:
            return Outcome(time.perf_counter(), kind="reset", detail=f"connection: {exc!r}")

    async def _connect(self) -> _Conn:
        reader, writer = await asyncio.open_connection(self.target.address, self.target.port, limit=1 << 20)
        return _Conn(reader, writer)

    async def _exchange(self, conn: _Conn) -> tuple[Outcome, bool]:
        conn.writer.write(self._payload())
        await conn.writer.drain()
        head = await conn.reader.readuntil(b"\r\n\r\n")
        first_byte = time.perf_counter()
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        headers: dict[str, str] = {}
        for line in lines[1:]:
            name, sep, value = line.partition(":")
            if sep:
                headers[name.strip().lower()] = value.strip()
        keep = headers.get("connection", "").lower() != "close"
        if "content-length" in headers:
            await conn.reader.readexactly(int(headers["content-length"]))
        elif headers.get("transfer-encoding", "").lower() == "chunked":
            while True:
                size = int((await conn.reader.readuntil(b"\r\n")).split(b";")[0], 16)
                await conn.reader.readexactly(size + 2)
                if size == 0:
                    break
        else:
            await conn.reader.read()
            keep = False
        revision = headers.get(self.target.revision_header.lower(), "") if self.target.revision_header else ""
        return Outcome(time.perf_counter(), first_byte, status, revision=revision), keep

    async def close(self) -> None:
        for conn in self.idle:
            conn.close()
        for conn in self.idle:
            with contextlib.suppress(OSError, ConnectionError):
                await conn.writer.wait_closed()
        self.open -= len(self.idle)
        self.idle.clear()


# ---------------------------------------------------------------------------------------------
# Loops.


async def open_loop(
    target: Target,
    phases: Sequence[Phase],
    recorder: Recorder,
    *,
    max_requests: int = 200_000,
    max_connections: int = 1000,
    stop: Callable[[], bool] = lambda: False,
) -> Client:
    """Send on the schedule; each latency from its intended time. Returns the (closed) client."""
    client = Client(target, max_connections)
    base = recorder.start
    tasks: set[asyncio.Task[None]] = set()

    async def one(intended: float) -> None:
        recorder.offered(intended, time.perf_counter())
        recorder.outcome(await client.request(), intended)

    try:
        for offset in arrivals(phases, max_requests):
            if stop():
                break
            intended = base + offset
            delay = intended - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            task = asyncio.create_task(one(intended))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
        # An idle tail of the schedule (rate 0) is part of the run: the observers watch it.
        await asyncio.sleep(max(0.0, base + sum(p.seconds for p in phases) - time.perf_counter()))
        if tasks:
            await asyncio.wait(list(tasks))
    finally:
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(list(tasks))
        await client.close()
    return client


async def closed_loop(
    target: Target,
    phases: Sequence[Phase],
    recorder: Recorder,
    *,
    max_requests: int = 200_000,
) -> Client:
    """`concurrency` workers per phase, each sending its next request when the last is answered."""
    client = Client(target, max_connections=max(p.concurrency for p in phases) if phases else 1)
    sent = 0
    phase_start = max(recorder.start, time.perf_counter())

    async def worker(until: float) -> None:
        nonlocal sent
        while time.perf_counter() < until and sent < max_requests:
            sent += 1
            started = time.perf_counter()
            recorder.offered(started, started)
            recorder.outcome(await client.request(), started)

    try:
        for phase in phases:
            until = phase_start + phase.seconds
            await asyncio.gather(*(worker(until) for _ in range(phase.concurrency)))
            phase_start = until
    finally:
        await client.close()
    return client
