"""What the client does when it cannot deliver: the spool at exit (sent by the next run,
readable by `eventlog import`), its bound, and delivery="sync", which raises like
django-eventlog. Against the real `eventlog serve`, stopped and started."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
import unittest
from pathlib import Path

from test_client import BIN, SRC, Server, free_port

from eventlog_client import Client, DeliveryError, EventGroup


class Spooling(unittest.TestCase):
    def spool_root(self) -> Path:
        root = tempfile.mkdtemp(prefix="eventlog-py-spool-")
        self.addCleanup(shutil.rmtree, root, True)
        return Path(root)

    def run_script(self, script: str, env: dict[str, str]) -> tuple[subprocess.CompletedProcess, float]:
        started = time.monotonic()
        out = subprocess.run(
            [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60
        )
        self.assertEqual(out.returncode, 0, out.stderr)
        return out, time.monotonic() - started

    def test_events_left_at_exit_are_spooled_importable_and_sent_by_the_next_run(self) -> None:
        server = Server()
        self.addCleanup(server.close)
        port = free_port()
        root = self.spool_root()
        env = dict(
            os.environ,
            PYTHONPATH=SRC,
            EVENTLOG_URL=f"http://127.0.0.1:{port}",
            EVENTLOG_TOKEN=server.token,
            EVENTLOG_SPOOL_DIR=str(root),
        )
        # A cron job while the server is down: it exits within about a second, not after 10.
        out, took = self.run_script(
            "from eventlog_client import EventGroup\n"
            "e = EventGroup(group_id='spooled py')\n"
            "for i in range(20):\n"
            "    e.info(f'event {i}', initiator='cron', data={'i': i})\n",
            env,
        )
        self.assertLess(took, 8, out.stderr)
        self.assertIn("20 events spooled to", out.stderr)
        files = list(root.glob("*/*.jsonl"))
        self.assertEqual(len(files), 1, list(root.rglob("*")))
        self.assertEqual(len(files[0].read_text().splitlines()), 20)

        # `eventlog import` reads a spool file as it is.
        elsewhere = dict(server.env, EVENTLOG_DATABASE_URL=f"sqlite://{server.dir}/elsewhere.db")
        imported = subprocess.run(
            [BIN, "import", str(files[0])], env=elsewhere, capture_output=True, text=True
        )
        self.assertEqual(imported.returncode, 0, imported.stderr)
        self.assertIn("imported 20 events", imported.stderr)

        # The server is back: the next run sends the spool along with its own event.
        server.start(port)
        self.run_script(
            "from eventlog_client import EventGroup\n"
            "EventGroup(group_id='next run py').info('hello')\n",
            env,
        )
        stored = server.events()
        self.assertEqual(
            sorted(e["message"] for e in stored if e["group"] == "spooled py"),
            sorted(f"event {i}" for i in range(20)),
        )
        self.assertEqual(len([e for e in stored if e["group"] == "next run py"]), 1)
        self.assertEqual(list(root.rglob("*.jsonl*")), [], "a delivered spool file is deleted")

        # A run that logs nothing sends what an earlier one left too.
        server.stop()
        self.run_script("from eventlog_client import EventGroup\nEventGroup(group_id='late py').info('x')\n", env)
        self.assertEqual(len(list(root.glob("*/*.jsonl"))), 1)
        server.start(port)
        self.run_script("import eventlog_client\neventlog_client.default_client()\n", env)
        self.assertEqual(len([e for e in server.events() if e["group"] == "late py"]), 1)
        self.assertEqual(list(root.rglob("*.jsonl*")), [])

    def test_the_spool_keeps_what_fits_and_counts_the_rest(self) -> None:
        root = self.spool_root()
        c = Client(
            f"http://127.0.0.1:{free_port()}",
            "evl_x",
            spool_dir=root,
            spool_max_bytes=2_000,
            exit_timeout=0.1,
            max_backoff=0.2,
        )
        e = EventGroup(client=c)
        with self.assertLogs("eventlog_client", "WARNING"):
            for i in range(50):
                e.info(f"event {i}", data={"padding": "x" * 40})
            self.assertFalse(c.close(timeout=0.5))
        path, written, dropped = c.spool_undelivered()
        self.assertIsNotNone(path)
        self.assertEqual(written + dropped, 50)
        self.assertGreater(dropped, 0)
        self.assertLessEqual(path.stat().st_size, 2_000)
        self.assertEqual(len(path.read_text().splitlines()), written)
        self.assertEqual(c.stats()["spooled"], written)

    def test_sync_delivery_raises_like_django_eventlog(self) -> None:
        server = Server()
        self.addCleanup(server.close)
        port = free_port()
        c = Client(f"http://127.0.0.1:{port}", server.token, delivery="sync", timeout=2)
        e = EventGroup(group_id="sync py", client=c)
        with self.assertRaises(DeliveryError):
            e.info("the server is down")
        server.start(port)
        e.info("stored at the call")  # no flush: the call returns after the commit
        self.assertEqual([x["message"] for x in server.events() if x["group"] == "sync py"], ["stored at the call"])
        self.assertEqual(c.stats()["sent"], 1)
        with self.assertRaises(ValueError):
            Client(server.url, server.token, delivery="later")


if __name__ == "__main__":
    unittest.main()
