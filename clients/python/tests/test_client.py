"""eventlog_client against the real `eventlog serve` (binary from EVENTLOG_BIN).

Run by crates/eventlog-cli/tests/python_client.rs (so `scripts/test` runs it), or by hand:
EVENTLOG_BIN=target/debug/eventlog PYTHONPATH=src python3 -m unittest discover -s tests
"""

from __future__ import annotations

import http.server
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
import unittest
import urllib.request
from decimal import Decimal
from pathlib import Path

from eventlog_client import Client, ConfigurationError, EventGroup

BIN = os.environ.get("EVENTLOG_BIN", "")
if not BIN or not Path(BIN).is_file():
    # Fail, never skip: these tests are the client's only check against the real server.
    raise RuntimeError(
        "EVENTLOG_BIN must name the eventlog binary (run through "
        "`cargo nextest run -p eventlog-cli --test python_client`)"
    )

SRC = str(Path(__file__).resolve().parent.parent / "src")

# Events a test leaves undelivered at exit are spooled here, never in the user's cache.
os.environ["EVENTLOG_SPOOL_DIR"] = tempfile.mkdtemp(prefix="eventlog-py-spool-")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """`eventlog serve` on a SQLite file in a temporary directory, with one API token."""

    def __init__(self) -> None:
        self.dir = tempfile.mkdtemp(prefix="eventlog-py-")
        self.env = dict(
            os.environ,
            EVENTLOG_DATABASE_URL=f"sqlite://{self.dir}/events.db",
            EVENTLOG_CONFIG=f"{self.dir}/eventlog.toml",
            NO_COLOR="1",
        )
        Path(self.env["EVENTLOG_CONFIG"]).write_text("")
        out = subprocess.run(
            # The tests read the events back through the API too.
            [BIN, "token", "add", "python-client", "--scope", "all"],
            env=self.env,
            capture_output=True,
            text=True,
            check=True,
        )
        self.token = out.stdout.strip()
        assert self.token, out.stderr
        self.proc: subprocess.Popen | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, port: int = 0) -> "Server":
        self.proc = subprocess.Popen(
            [BIN, "serve", "--bind", f"127.0.0.1:{port}"],
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        deadline = time.monotonic() + 30
        assert self.proc.stderr is not None
        while time.monotonic() < deadline:
            line = self.proc.stderr.readline()
            if not line:
                raise RuntimeError(f"eventlog serve exited: {self.proc.wait()}")
            m = re.search(r"http://127\.0\.0\.1:(\d+)", line)
            if m:
                self.port = int(m.group(1))
                # Keep draining stderr so the server never blocks on a full pipe.
                threading.Thread(target=self.proc.stderr.read, daemon=True).start()
                return self
        raise RuntimeError("eventlog serve did not say where it listens within 30 s")

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(timeout=30)
            if self.proc.stderr is not None:
                self.proc.stderr.close()
            self.proc = None

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    def events(self) -> list[dict]:
        """Every stored event, oldest first, through the API."""
        events: list[dict] = []
        cursor = None
        while True:
            q = "limit=1000&order=asc" + (f"&cursor={cursor}" if cursor else "")
            req = urllib.request.Request(
                f"{self.url}/api/v1/events?{q}",
                headers={"Authorization": f"Bearer {self.token}"},
            )
            with urllib.request.urlopen(req, timeout=10) as r:
                page = json.load(r)
            events += page["events"]
            cursor = page["next_cursor"]
            if not cursor:
                return events


class LostAckProxy:
    """Plays a load balancer whose answer gets lost: forwards the first `fail` POSTs to the
    server (which stores them) and answers the client 503 with Retry-After: 0 anyway."""

    def __init__(self, target: str, fail: int) -> None:
        self.target = target
        self.remaining = fail
        self.forwarded = 0
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                body = self.rfile.read(int(self.headers["Content-Length"]))
                req = urllib.request.Request(
                    proxy.target + self.path,
                    data=body,
                    headers={
                        "Authorization": self.headers["Authorization"],
                        "Content-Type": "application/json",
                    },
                    method="POST",
                )
                with urllib.request.urlopen(req, timeout=10) as r:
                    status, answer = r.status, r.read()
                proxy.forwarded += 1
                if proxy.remaining > 0:
                    proxy.remaining -= 1
                    status, answer = 503, b'{"error": "upstream timed out"}'
                self.send_response(status)
                if status == 503:
                    self.send_header("Retry-After", "0")
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


class AgainstServer(unittest.TestCase):
    server: Server

    @classmethod
    def setUpClass(cls) -> None:
        cls.server = Server().start()

    @classmethod
    def tearDownClass(cls) -> None:
        cls.server.close()

    def client(self, **options: object) -> Client:
        c = Client(self.server.url, self.server.token, **options)
        self.addCleanup(c.close, 5)
        return c

    def group_events(self, group: str) -> list[dict]:
        return [e for e in self.server.events() if e["group"] == group]

    def test_django_eventlog_usage_stores_the_events(self) -> None:
        c = self.client()
        e = EventGroup(client=c)
        self.assertRegex(e.group_id, r"^[0-9a-f]{32}$")
        e.info("About to send 1000 mails.", initiator="Mailer Daemon")
        e.error("There was an error sending the emails.", initiator="Mailer Daemon")
        order = EventGroup(group_id="Order 1234 py", client=c)
        order.info("Sent order to Shopify", data={"items": [1, 2, 3]})
        # django-eventlog's positional order: message, initiator, send_mail, data.
        order.warning("Ünïcödé ✓", "checkout", None, {"total": 99.5})
        order.log("critical", "Payment provider unreachable")
        mailed = EventGroup("ops@example.com", "Mailed py", client=c)
        mailed.info("mail me")
        self.assertTrue(c.flush(timeout=30))
        self.assertEqual(c.stats()["sent"], 6)
        self.assertEqual(c.stats()["failed"], 0)

        mails = self.group_events(e.group_id)
        self.assertEqual([(x["type"], x["message"], x["initiator"]) for x in mails], [
            ("info", "About to send 1000 mails.", "Mailer Daemon"),
            ("error", "There was an error sending the emails.", "Mailer Daemon"),
        ])
        got = self.group_events("Order 1234 py")
        self.assertEqual(
            [(x["type"], x["message"], x["initiator"], x["data"]) for x in got],
            [
                ("info", "Sent order to Shopify", None, {"items": [1, 2, 3]}),
                ("warning", "Ünïcödé ✓", "checkout", {"total": 99.5}),
                ("critical", "Payment provider unreachable", None, None),
            ],
        )
        # The client stamps the time of the call, to the microsecond.
        self.assertRegex(got[0]["timestamp"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")
        self.assertEqual(self.group_events("Mailed py")[0]["send_mail"], "ops@example.com")

    def test_unserializable_data_is_sent_as_its_string_form(self) -> None:
        c = self.client()
        e = EventGroup(group_id="decimal py", client=c)
        e.warning("price", data={"decimal": Decimal("1.10")})
        e.info("nan", data={"x": float("nan")})
        self.assertTrue(c.flush(timeout=30))
        data = [x["data"] for x in self.group_events("decimal py")]
        # Exactly what django-eventlog stored for the same call.
        self.assertEqual(data, ["{'decimal': Decimal('1.10')}", "{'x': nan}"])

    def test_invalid_input_raises_like_django_eventlog_and_sends_nothing(self) -> None:
        c = self.client()
        with self.assertRaisesRegex(TypeError, "group_id must be at most 40 characters"):
            EventGroup(group_id="x" * 41, client=c)
        e = EventGroup(group_id="invalid py", client=c)
        with self.assertRaisesRegex(TypeError, 'Event type "notice" does not exist.'):
            e.notice("hello")
        with self.assertRaisesRegex(TypeError, 'Event type "notice" does not exist.'):
            e.log("notice", "hello")
        with self.assertRaisesRegex(ValueError, "message must be a non-empty string"):
            e.info("")
        with self.assertRaisesRegex(ValueError, "initiator is 501 characters long"):
            e.info("m", initiator="i" * 501)
        EventGroup(group_id="y" * 40, client=c)  # 40 is fine
        self.assertTrue(c.flush(timeout=5))
        self.assertEqual(c.stats(), {"sent": 0, "failed": 0, "dropped": 0, "retries": 0, "spooled": 0, "pending": 0})
        with self.assertRaises(ValueError):
            Client(self.server.url, self.server.token, types="info,bad-name")

    def test_a_type_the_server_does_not_know_fails_alone(self) -> None:
        # The client was told of a type the server is not configured with.
        c = self.client(types=["info", "audit"])
        e = EventGroup(group_id="audit py", client=c)
        e.info("before")
        e.audit("unknown to the server")
        e.info("after")
        self.assertTrue(c.flush(timeout=30))
        s = c.stats()
        self.assertEqual((s["sent"], s["failed"]), (2, 1))
        self.assertEqual([x["message"] for x in self.group_events("audit py")], ["before", "after"])

    def test_a_rejected_token_is_counted_not_raised(self) -> None:
        c = Client(self.server.url, "evl_not-a-token")
        self.addCleanup(c.close, 5)
        with self.assertLogs("eventlog_client", "ERROR") as logs:
            EventGroup(group_id="badtoken py", client=c).info("x")
            self.assertTrue(c.flush(timeout=30))
        self.assertEqual(c.stats()["failed"], 1)
        self.assertIn("status 401", "\n".join(logs.output))
        self.assertEqual(self.group_events("badtoken py"), [])

    def test_lost_acknowledgements_are_retried_with_the_same_ids(self) -> None:
        proxy = LostAckProxy(self.server.url, fail=2)
        self.addCleanup(proxy.close)
        c = Client(proxy.url, self.server.token, batch_size=10)
        self.addCleanup(c.close, 5)
        e = EventGroup(group_id="lost ack py", client=c)
        for i in range(25):
            e.info(f"event {i}")
        self.assertTrue(c.flush(timeout=30))
        self.assertGreaterEqual(c.stats()["retries"], 2)
        self.assertGreater(proxy.forwarded, 3)  # the server saw the batches more than once
        stored = self.group_events("lost ack py")
        self.assertEqual(sorted(x["message"] for x in stored), sorted(f"event {i}" for i in range(25)))

    def test_default_client_from_the_environment_flushes_at_exit(self) -> None:
        script = textwrap.dedent(
            """
            from eventlog_client import EventGroup
            e = EventGroup(group_id="atexit py")
            for i in range(300):
                e.info(f"event {i}", initiator="script")
            # no flush: the interpreter's exit delivers them
            """
        )
        env = dict(
            os.environ,
            PYTHONPATH=SRC,
            EVENTLOG_URL=self.server.url,
            EVENTLOG_TOKEN=self.server.token,
        )
        subprocess.run([sys.executable, "-c", script], env=env, check=True, timeout=60)
        self.assertEqual(len(self.group_events("atexit py")), 300)

    def test_missing_configuration_is_an_error(self) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("EVENTLOG_")}
        out = subprocess.run(
            [sys.executable, "-c", "from eventlog_client import EventGroup; EventGroup()"],
            env=dict(env, PYTHONPATH=SRC),
            capture_output=True,
            text=True,
        )
        self.assertNotEqual(out.returncode, 0)
        self.assertIn("ConfigurationError: no eventlog server URL", out.stderr)
        self.assertTrue(issubclass(ConfigurationError, RuntimeError))
        with self.assertRaisesRegex(ConfigurationError, "must start with http:// or https://"):
            Client("events.internal:8000", "evl_x")


class WithoutServer(unittest.TestCase):
    def test_server_down_then_up_loses_nothing_and_never_raises(self) -> None:
        server = Server()
        self.addCleanup(server.close)
        port = free_port()
        c = Client(f"http://127.0.0.1:{port}", server.token, max_backoff=0.5)
        self.addCleanup(c.close, 5)
        e = EventGroup(group_id="down py", client=c)
        with self.assertLogs("eventlog_client", "WARNING"):
            for i in range(50):
                e.info(f"event {i}")  # connection refused: no exception here
            self.assertFalse(c.flush(timeout=1))
        self.assertGreater(c.stats()["retries"], 0)
        self.assertEqual(c.stats()["pending"], 50)
        server.start(port)
        self.assertTrue(c.flush(timeout=30))
        self.assertEqual(len([x for x in server.events() if x["group"] == "down py"]), 50)
        self.assertEqual(c.stats()["sent"], 50)

    def test_a_full_buffer_drops_and_counts_new_events(self) -> None:
        c = Client(
            f"http://127.0.0.1:{free_port()}",
            "evl_x",
            max_buffer=5,
            batch_size=5,
            exit_timeout=0.1,
        )
        with self.assertLogs("eventlog_client", "ERROR") as logs:
            e = EventGroup(client=c)
            for i in range(30):
                e.info(f"event {i}")
        s = c.stats()
        # At most one batch in flight plus a full buffer are kept; the rest is dropped.
        self.assertLessEqual(s["pending"], 10)
        self.assertEqual(s["pending"] + s["dropped"], 30)
        self.assertGreaterEqual(s["dropped"], 20)
        self.assertIn("buffer full", "\n".join(logs.output))
        self.assertFalse(c.close(timeout=0.2))


class NotifyOverride(unittest.TestCase):
    """`notify=` on a group and on an event, against `eventlog serve` with a `[notify]`
    webhook (routed `error` only) posting to a receiver in this process."""

    def test_group_and_event_lists_replace_the_routes_by_type(self) -> None:
        bodies: list[dict] = []

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                bodies.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        receiver = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=receiver.serve_forever, daemon=True).start()
        self.addCleanup(receiver.server_close)
        self.addCleanup(receiver.shutdown)
        server = Server()
        Path(server.env["EVENTLOG_CONFIG"]).write_text(
            "[notify]\n[[notify.channel]]\n"
            'name = "hook"\nkind = "webhook"\ntypes = ["error"]\n'
            f'url = "http://127.0.0.1:{receiver.server_address[1]}/"\n'
        )
        server.start()
        self.addCleanup(server.close)
        c = Client(server.url, server.token)
        self.addCleanup(c.close, 5)
        EventGroup(client=c, notify=["hook"]).info("the group's list")
        EventGroup(client=c).error("silenced", notify=[])
        EventGroup(client=c).error("routed by type")
        self.assertTrue(c.flush(timeout=30))
        deadline = time.monotonic() + 20
        while len(bodies) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(1.5)  # time for a message that should not come
        self.assertEqual(sorted(b["message"] for b in bodies), ["routed by type", "the group's list"])


if __name__ == "__main__":
    unittest.main()
