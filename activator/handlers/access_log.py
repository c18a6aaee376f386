"""One JSON line per request: time, host, method, path, status, bytes, duration, revision, pod,
queue wait and request id, handed to a line sink that writes off the event loop."""

from __future__ import annotations

import time
from json.encoder import encode_basestring_ascii as _quote

from activator.access_lines import LineSink
from activator.handlers.chain import Observer
from activator.handlers.context import RequestContext
from activator.handlers.exchange import Exchange


def access_log_observer(lines: LineSink) -> Observer:
    def log(request: Exchange, ctx: RequestContext, status: int, size: int, duration: float) -> None:
        lines.write(_line(request, ctx, status, size, duration))

    return log


def _line(request: Exchange, ctx: RequestContext, status: int, size: int, duration: float) -> str:
    # Formatted by hand, strings quoted by json's C quoting: a third of what json.dumps of a
    # dict costs (measured 14.6 -> ~4 us), on every request.
    revision = ctx.revision.key if ctx.revision is not None else None
    pod = ctx.pod
    remote = request.remote
    return (
        f'{{"time":{time.time():.6f},"host":{_quote(request.host)},"method":{_quote(request.method)},'
        f'"path":{_quote(request.raw_path)},"status":{status},"bytes":{size},"duration":{duration:.6f},'
        f'"namespace":{_quote(revision.namespace) if revision else "null"},'
        f'"revision":{_quote(revision.name) if revision else "null"},'
        f'"pod":{_quote(pod.authority) if pod else "null"},"queue_wait":{ctx.queue_wait:.6f},'
        f'"request_id":{_quote(ctx.request_id)},"remote":{_quote(remote) if remote is not None else "null"}}}'
    )
