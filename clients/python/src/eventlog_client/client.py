"""The client: a bounded buffer, a background sender thread, and django-eventlog's EventGroup."""

from __future__ import annotations

import atexit
import datetime
import http.client
import json
import logging
import os
import re
import threading
import time
import urllib.error
import urllib.request
import weakref
from collections import deque
from pathlib import Path
from typing import Any, Iterable

from .spool import DEFAULT_MAX_BYTES, Spool, default_root

logger = logging.getLogger("eventlog_client")

#: django-eventlog's default event types; eventlog's defaults are the same.
DEFAULT_TYPES = ("info", "warning", "error", "critical")

#: Longest group id and initiator, in characters (django-eventlog's column sizes).
MAX_GROUP_LEN = 40
MAX_INITIATOR_LEN = 500

_TYPE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,49}$")

# HTTP statuses worth retrying with the same events: the server is busy, restarting or has
# a full disk, or a proxy in front of it is. Everything else in 4xx is a rejection.
_RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504, 507})


class ConfigurationError(RuntimeError):
    """The client has no server URL or token (arguments, ``configure()`` or environment)."""


class DeliveryError(RuntimeError):
    """With ``delivery="sync"``: the server did not store the event (as django-eventlog's
    log call raises when its database insert fails)."""


def _parse_types(value: str | Iterable[str] | None) -> tuple[str, ...]:
    if value is None:
        return DEFAULT_TYPES
    if isinstance(value, str):
        value = [v.strip() for v in value.split(",")]
    names = tuple(v for v in value if v)
    for name in names:
        if not _TYPE_NAME.match(name):
            raise ValueError(
                f"event type name {name!r} is invalid: a type name must match "
                r"^[A-Za-z_][A-Za-z0-9_]{0,49}$"
            )
    if not names:
        raise ValueError("no event type given; at least one is needed")
    return names


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class Client:
    """Sends events to an eventlog server's ``POST /api/v1/events`` in batches.

    ``url`` is the server's base URL (``https://events.example.com``, or with a mount prefix);
    ``token`` an API token from ``eventlog token add NAME``. Either defaults to the environment
    variables ``EVENTLOG_URL`` and ``EVENTLOG_TOKEN``. ``types`` are the event type names the
    server is configured with (``[[types]]`` in eventlog.toml), as a list or a comma separated
    string; default ``EVENTLOG_TYPES`` or django-eventlog's four: info, warning, error, critical.

    A log call only checks the event and appends it to a buffer of at most ``max_buffer``
    events; a daemon thread sends batches of up to ``batch_size``. Server problems (connection
    refused, timeouts, 5xx, 503 with ``Retry-After``) are retried with back-off, resending the
    same event ids so the server stores each event once; they never raise in the caller. When
    the buffer is full, new events are dropped, counted in ``stats()["dropped"]`` and logged.
    At exit the client waits up to ``exit_timeout`` (10 s) for delivery, or 1 s when the server
    is failing at that moment; what is still undelivered is then written to the spool (``spool_dir``, default ``EVENTLOG_SPOOL_DIR`` or
    ``~/.cache/eventlog-client/spool``; at most ``spool_max_bytes`` per server) and sent by the
    next process; ``spool=False`` turns that off. ``delivery="sync"`` sends each event at the
    call and raises :class:`DeliveryError` when the server does not store it.
    Events the server rejects (a type it does not know, a revoked token) are counted in
    ``stats()["failed"]`` and logged on the ``eventlog_client`` logger.
    """

    def __init__(
        self,
        url: str | None = None,
        token: str | None = None,
        *,
        types: str | Iterable[str] | None = None,
        batch_size: int = 500,
        max_buffer: int = 10_000,
        timeout: float = 10.0,
        max_backoff: float = 30.0,
        exit_timeout: float = 10.0,
        spool: bool = True,
        spool_dir: str | os.PathLike[str] | None = None,
        spool_max_bytes: int = DEFAULT_MAX_BYTES,
        delivery: str = "background",
    ) -> None:
        url = url or os.environ.get("EVENTLOG_URL")
        token = token or os.environ.get("EVENTLOG_TOKEN")
        if not url:
            raise ConfigurationError(
                "no eventlog server URL: pass url=... or set EVENTLOG_URL "
                "(e.g. https://events.example.com)"
            )
        if not token:
            raise ConfigurationError(
                "no eventlog API token: pass token=... or set EVENTLOG_TOKEN "
                "(create one with `eventlog token add NAME`)"
            )
        if not url.startswith(("http://", "https://")):
            raise ConfigurationError(
                f"eventlog server URL {url!r} must start with http:// or https://"
            )
        if batch_size < 1 or max_buffer < 1:
            raise ValueError("batch_size and max_buffer must be at least 1")
        if delivery not in ("background", "sync"):
            raise ValueError(f"delivery must be 'background' or 'sync', not {delivery!r}")
        self.delivery = delivery
        self.url = url.rstrip("/") + "/api/v1/events"
        self._token = token
        self.types = _parse_types(types if types is not None else os.environ.get("EVENTLOG_TYPES"))
        self.batch_size = batch_size
        self.max_buffer = max_buffer
        self.timeout = timeout
        self.max_backoff = max_backoff
        self.exit_timeout = exit_timeout
        # Whether the last attempt met a server problem: at exit, no point waiting long.
        self.failing = False
        self._spool = (
            Spool(Path(spool_dir) if spool_dir else default_root(), self.url, spool_max_bytes)
            if spool and delivery == "background"
            else None
        )
        self._stats = {"sent": 0, "failed": 0, "dropped": 0, "retries": 0, "spooled": 0}
        self._reset_after_fork()
        if self._spool is not None and self._spool.has_files():
            # What an earlier run left behind goes out first. Claimed here, not by the sender
            # thread, so that a process exiting at once still waits for (or spools) it.
            claimed, events = self._spool.claim()
            with self._lock:
                self._claimed += claimed
                self._buffer.extend(events)
                self._start_sender()
        # Forked workers (gunicorn --preload) inherit the buffer but not the thread.
        if hasattr(os, "register_at_fork"):
            ref = weakref.ref(self)
            os.register_at_fork(after_in_child=lambda: (c := ref()) and c._reset_after_fork())
        _live_clients.add(self)

    def _reset_after_fork(self) -> None:
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._buffer: deque[dict[str, Any]] = deque()
        self._in_flight = 0
        self._in_flight_batch: list[dict[str, Any]] = []
        self._claimed: list[Path] = []
        self._thread: threading.Thread | None = None
        self._closed = False
        self._dropping = False

    # -- the caller's side ------------------------------------------------------------------

    def submit(self, event: dict[str, Any]) -> bool:
        """Queues one event (already checked); returns False when it was dropped. With
        ``delivery="sync"``, sends it at once and raises :class:`DeliveryError` on failure."""
        if self.delivery == "sync":
            status, body, _ = self._post([event])
            if status != 201:
                self._count("failed", 1)
                raise DeliveryError(
                    f"eventlog server did not store the event ({status or 'unreachable'}): {body}"
                )
            self._count("sent", 1)
            return True
        with self._lock:
            if self._closed:
                self._stats["dropped"] += 1
                logger.error("eventlog client is closed; event dropped: %s", event["message"])
                return False
            if len(self._buffer) >= self.max_buffer:
                self._stats["dropped"] += 1
                if not self._dropping:
                    self._dropping = True
                    logger.error(
                        "eventlog buffer full (%d events, server unreachable or slow): "
                        "dropping new events until it drains",
                        self.max_buffer,
                    )
                return False
            self._buffer.append(event)
            self._start_sender()
            self._changed.notify_all()
            return True

    def _start_sender(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="eventlog-client", daemon=True)
            self._thread.start()

    def spool_undelivered(self) -> tuple[Path | None, int, int]:
        """Writes what is not delivered yet (in flight included: the server stores an event
        sent twice once) to the spool; returns the file, the events written and those that
        did not fit."""
        with self._lock:
            pending = list(self._in_flight_batch) + list(self._buffer)
            self._buffer.clear()
            self._in_flight_batch = []  # spooled once, even if asked again
            claimed, self._claimed = self._claimed, []
            self._changed.notify_all()
        if self._spool is None:
            return None, 0, len(pending)
        path, dropped = self._spool.write(pending)
        Spool.release(claimed)  # their events are in the new file
        self._count("spooled", len(pending) - dropped)
        self._count("dropped", dropped)
        return path, len(pending) - dropped, dropped

    def flush(self, timeout: float | None = None) -> bool:
        """Waits until every event logged so far is stored or given up on; False on timeout."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._lock:
            while self._buffer or self._in_flight:
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return False
                self._changed.wait(remaining)
            return True

    def close(self, timeout: float | None = None) -> bool:
        """Flushes (up to ``timeout``) and stops the sender; later events are dropped."""
        done = self.flush(timeout)
        with self._lock:
            self._closed = True
            self._changed.notify_all()
        return done

    def stats(self) -> dict[str, int]:
        """Counters: ``sent``, ``failed`` (rejected by the server), ``dropped`` (buffer full,
        closed or spool full), ``retries`` (attempts repeated after a server problem),
        ``spooled`` (written to the spool at exit), ``pending``."""
        with self._lock:
            return dict(self._stats, pending=len(self._buffer) + self._in_flight)

    # -- the sender thread ------------------------------------------------------------------

    def _run(self) -> None:
        while True:
            with self._lock:
                while not self._buffer and not self._closed:
                    self._changed.wait()
                if not self._buffer:
                    return
                batch = [self._buffer.popleft() for _ in range(min(self.batch_size, len(self._buffer)))]
                self._in_flight = len(batch)
                self._in_flight_batch = batch
                if self._dropping and len(self._buffer) < self.max_buffer // 2:
                    self._dropping = False
            try:
                self._deliver(batch)
            except Exception:  # never let the sender die: that would stall every caller's flush
                logger.exception("eventlog client: unexpected error; %d events lost", len(batch))
                self._count("failed", len(batch))
            finally:
                with self._lock:
                    self._in_flight = 0
                    self._in_flight_batch = []
                    if self._claimed and not self._buffer:
                        # Every event of the claimed spool files is delivered (or rejected):
                        # deleted before flush() returns, so a process exiting then leaves none.
                        Spool.release(self._claimed)
                        self._claimed = []
                    self._changed.notify_all()

    def _count(self, key: str, n: int) -> None:
        with self._lock:
            self._stats[key] += n

    def _deliver(self, batch: list[dict[str, Any]]) -> None:
        """Sends ``batch`` until the server has it, retrying server problems with the same ids."""
        backoff = 0.2
        while batch:
            status, body, retry_after = self._post(batch)
            self.failing = status is None or status in _RETRY_STATUSES
            if status == 201:
                self._count("sent", len(batch))
                return
            if self.failing:
                self._count("retries", 1)
                wait = retry_after if retry_after is not None else backoff
                logger.warning(
                    "eventlog server problem (%s); retrying %d events in %.1fs",
                    body,
                    len(batch),
                    wait,
                )
                time.sleep(min(wait, self.max_backoff))
                backoff = min(backoff * 2, self.max_backoff)
                continue
            if status == 413 and len(batch) > 1:
                half = len(batch) // 2
                self._deliver(batch[:half])
                batch = batch[half:]
                continue
            index = body.get("index") if isinstance(body, dict) else None
            message = body.get("error") if isinstance(body, dict) else body
            if status == 400 and isinstance(index, int) and 0 <= index < len(batch) and len(batch) > 1:
                # The API rejects a batch as a whole; drop the offending event, resend the rest.
                bad = batch.pop(index)
                self._count("failed", 1)
                logger.error(
                    "eventlog server rejected event %s of type %r (%s)",
                    bad["id"],
                    bad["type"],
                    message,
                )
                continue
            self._count("failed", len(batch))
            logger.error(
                "eventlog server rejected %d events with status %s: %s",
                len(batch),
                status,
                message,
            )
            return

    def _post(self, batch: list[dict[str, Any]]) -> tuple[int | None, Any, float | None]:
        """One POST: (status or None for a connection problem, parsed body, Retry-After)."""
        request = urllib.request.Request(
            self.url,
            data=json.dumps(batch).encode("utf-8"),
            headers={
                "Authorization": f"Bearer {self._token}",
                "Content-Type": "application/json",
                "User-Agent": "eventlog-client-python",
            },
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                response.read()
                return response.status, None, None
        except urllib.error.HTTPError as e:
            raw = e.read()
            try:
                body: Any = json.loads(raw)
            except ValueError:
                body = raw.decode("utf-8", "replace")[:200]
            retry_after = None
            try:
                retry_after = float(e.headers.get("Retry-After", ""))
            except ValueError:
                pass
            return e.code, body, retry_after
        except (OSError, http.client.HTTPException) as e:
            # Connection refused or reset, DNS failure, timeout, a response cut short: the
            # server may come back. (URLError is an OSError.)
            return None, str(e) or type(e).__name__, None


_live_clients: "weakref.WeakSet[Client]" = weakref.WeakSet()
_default: Client | None = None
_default_lock = threading.Lock()


def configure(url: str | None = None, token: str | None = None, **options: Any) -> Client:
    """Sets the client every ``EventGroup`` without ``client=`` uses; returns it.

    Takes the arguments of :class:`Client`. Without a call, the first ``EventGroup`` makes
    one from ``EVENTLOG_URL``, ``EVENTLOG_TOKEN`` and ``EVENTLOG_TYPES``.
    """
    global _default
    client = Client(url, token, **options)
    with _default_lock:
        old, _default = _default, client
    if old is not None:
        old.close(old.exit_timeout)
    return client


def default_client() -> Client:
    """The client ``configure()`` set, or one made from the environment on first use."""
    global _default
    with _default_lock:
        if _default is None:
            _default = Client()
        return _default


def flush(timeout: float | None = None) -> bool:
    """Flushes the default client (if one exists); False on timeout."""
    with _default_lock:
        client = _default
    return True if client is None else client.flush(timeout)


def _delivered_before_exit(client: Client) -> bool:
    """Waits for delivery up to ``exit_timeout``, or for 1 s of server problems when the
    spool can keep the rest (a cron job need not hang for a server that is down)."""
    deadline = time.monotonic() + client.exit_timeout
    failing_since: float | None = None
    while not client.flush(0.1):
        now = time.monotonic()
        if now >= deadline:
            return False
        if client._spool is not None and client.failing:
            failing_since = failing_since or now
            if now - failing_since >= 1.0:
                return False
        else:
            failing_since = None
    return True


@atexit.register
def _flush_at_exit() -> None:
    for client in list(_live_clients):
        delivered = _delivered_before_exit(client)
        client.close(0)
        if delivered:
            continue
        if client._spool is None:
            logger.error(
                "eventlog client: %d events not delivered at exit (server unreachable)",
                client.stats()["pending"],
            )
            continue
        path, spooled, dropped = client.spool_undelivered()
        if spooled:
            logger.warning(
                "eventlog client: server unreachable; %d events spooled to %s, "
                "sent by the next run (or load them with `eventlog import FILE`)",
                spooled,
                path,
            )
        if dropped:
            logger.error(
                "eventlog client: spool %s full (%d bytes): %d events lost",
                client._spool.dir,
                client._spool.max_bytes,
                dropped,
            )
