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


_LINE = (
    '{"time":%.6f,"host":%s,"method":%s,"path":%s,"status":%d,"bytes":%d,"duration":%.6f,'
    '"namespace":%s,"revision":%s,"pod":%s,"queue_wait":%.6f,"request_id":%s,"remote":%s}'
)


def _line(request: Exchange, ctx: RequestContext, status: int, size: int, duration: float) -> str:
    # Formatted by hand, strings quoted by json's C quoting: a third of what json.dumps of a
    # dict costs (measured 14.6 -> ~4 us), on every request. One %-format rather than an
    # f-string: mypyc builds f-strings with format specs piece by piece (measured, compiled:
    # 6.1 us as an f-string, 2.8 us as this).
    revision = ctx.revision.key if ctx.revision is not None else None
    pod = ctx.pod
    remote = request.remote
    return _LINE % (
        time.time(),
        _quote(request.host),
        _quote(request.method),
        _quote(request.raw_path),
        status,
        size,
        duration,
        _quote(revision.namespace) if revision else "null",
        _quote(revision.name) if revision else "null",
        _quote(pod.authority) if pod else "null",
        ctx.queue_wait,
        _quote(ctx.request_id),
        _quote(remote) if remote is not None else "null",
    )
