"""A kept-alive connection that the pod closed while it sat idle must not carry a POST.

When a pod dies, the kernel knows at once that its connections are closed; the gateway's event
loop learns it only when it next reads them. A request taken from the pool in between would be
written to a dead connection: the pod never sees it, but the gateway cannot tell, so a POST
with a body, which cannot be sent again, got 502 (seen in tests/reliability after a pod was
killed). The pool now checks the socket before a request with a body takes an idle
connection. Here the loop is held on purpose between the pod's close and the next request,
which makes that window certain.
"""

from __future__ import annotations

import socket
import threading
import time

from activator.backends import PodAddress
from activator.upstream import UpstreamPool

OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"


class ClosingPod:
    """A blocking loopback server in a thread: answers one POST on its first connection, keeps
    it open until told to close it, then answers one POST on each later connection."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        # Short accept timeouts, so that the thread notices `stop` (closing a listening socket
        # from another thread does not wake an accept blocked on it).
        self.listener.settimeout(0.05)
        self.address = PodAddress("127.0.0.1", self.listener.getsockname()[1])
        self.close_first = threading.Event()
        self.first_closed = threading.Event()
        self.stopping = threading.Event()
        self.connections = 0
        self.thread = threading.Thread(target=self._serve, name="closing-pod", daemon=True)
        self.thread.start()

    def _answer(self, conn: socket.socket) -> None:
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = conn.recv(65536)
            if not chunk:
                return
            data += chunk
        conn.sendall(OK)

    def _accept(self) -> socket.socket | None:
        deadline = time.monotonic() + 10
        while not self.stopping.is_set() and time.monotonic() < deadline:
            try:
                conn, _ = self.listener.accept()
            except TimeoutError:
                continue
            conn.settimeout(10)
            self.connections += 1
            return conn
        return None

    def _serve(self) -> None:
        try:
            first = self._accept()
            if first is None:
                return
            self._answer(first)
            self.close_first.wait(10)
            first.close()
            self.first_closed.set()
            while (conn := self._accept()) is not None:
                with conn:
                    self._answer(conn)
        except OSError:
            return

    def stop(self) -> None:
        self.stopping.set()
        self.close_first.set()
        self.thread.join(timeout=10)
        self.listener.close()


def _close_while_the_loop_waits(pod: ClosingPod) -> None:
    # Blocks the event loop on purpose: the pool must not get a chance to read the close.
    pod.close_first.set()
    assert pod.first_closed.wait(5)
    time.sleep(0.05)  # the FIN has reached this end's kernel


async def test_a_post_is_not_written_to_a_connection_the_pod_already_closed() -> None:
    pod = ClosingPod()
    pool = UpstreamPool()
    headers = [("Host", "svc.example.com")]
    try:
        first = await pool.request(pod.address, "POST", "/", headers, b"one", 3)
        assert await first.read() == b"ok"
        first.release()
        _close_while_the_loop_waits(pod)
        second = await pool.request(pod.address, "POST", "/", headers, b"two", 3)
        assert second.status == 200 and await second.read() == b"ok"
        second.release()
        assert pod.connections == 2
    finally:
        pool.close()
        pod.stop()
