"""The spool: events a process could not deliver before it exited, kept on disk and sent by
the next process that uses the same server.

One directory per server URL under the spool root (``EVENTLOG_SPOOL_DIR``, default
``$XDG_CACHE_HOME/eventlog-client/spool`` or ``~/.cache/eventlog-client/spool``). Each exit
that leaves events behind writes one file, ``spool-<time>-<pid>.jsonl``: JSON Lines in the
format ``eventlog export --format jsonl`` writes and ``eventlog import FILE`` reads. A file
appears whole (written under a temporary name, then renamed). A process claims a file by
renaming it (``.jsonl.claimed-<pid>``), so two processes never both send it, and deletes it
once its events are delivered; a claimed file whose process is gone is claimed again.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from pathlib import Path
from typing import Any, Optional

#: Most bytes of spool files kept per server; past it, new spool files are cut short.
DEFAULT_MAX_BYTES = 16 * 1024 * 1024


def default_root() -> Path:
    """``EVENTLOG_SPOOL_DIR``, else the user's cache directory."""
    configured = os.environ.get("EVENTLOG_SPOOL_DIR")
    if configured:
        return Path(configured)
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(cache) / "eventlog-client" / "spool"


def to_line(event: dict[str, Any]) -> str:
    """An API event as a line of the export format (``uuid`` for the API's ``id``)."""
    record: dict[str, Any] = {
        "uuid": event["id"],
        "type": event["type"],
        "group": event["group"],
        "timestamp": event["timestamp"],
        "message": event["message"],
    }
    for key in ("initiator", "data", "send_mail", "notify"):
        if event.get(key) is not None:
            record[key] = event[key]
    return json.dumps(record, ensure_ascii=False, separators=(",", ":"))


def from_line(line: str) -> Optional[dict[str, Any]]:
    """A line of the export format as an API event; None for a line that is not one."""
    try:
        record = json.loads(line)
        event = {
            "id": record["uuid"],
            "type": record["type"],
            "group": record["group"],
            "timestamp": record["timestamp"],
            "message": record["message"],
        }
    except (ValueError, KeyError, TypeError):
        return None
    for key in ("initiator", "data", "send_mail", "notify"):
        if record.get(key) is not None:
            event[key] = record[key]
    return event


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class Spool:
    """The spool directory of one server."""

    def __init__(self, root: Path, server_url: str, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        digest = hashlib.sha256(server_url.encode("utf-8")).hexdigest()[:16]
        self.dir = Path(root) / digest
        self.max_bytes = max_bytes

    def _files(self) -> list[Path]:
        try:
            return sorted(p for p in self.dir.iterdir() if ".jsonl" in p.name and not p.name.startswith("."))
        except FileNotFoundError:
            return []

    def has_files(self) -> bool:
        """Whether anything waits to be sent (cheap: one directory listing)."""
        return bool(self._files())

    def write(self, events: list[dict[str, Any]]) -> tuple[Optional[Path], int]:
        """Writes ``events`` to a new spool file within the size bound; returns the file (None
        when nothing was written) and how many events did not fit."""
        if not events:
            return None, 0
        self.dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        used = 0
        for p in self._files():
            try:
                used += p.stat().st_size
            except FileNotFoundError:
                pass
        lines: list[bytes] = []
        for event in events:
            line = (to_line(event) + "\n").encode("utf-8")
            if used + len(line) > self.max_bytes:
                break
            used += len(line)
            lines.append(line)
        if not lines:
            return None, len(events)
        name = f"spool-{time.time_ns()}-{os.getpid()}.jsonl"
        partial = self.dir / f".{name}.partial"
        with open(partial, "wb") as f:
            f.writelines(lines)
            f.flush()
            os.fsync(f.fileno())
        final = self.dir / name
        os.replace(partial, final)
        return final, len(events) - len(lines)

    def claim(self) -> tuple[list[Path], list[dict[str, Any]]]:
        """Claims every file no live process holds; returns them and their events."""
        claimed: list[Path] = []
        events: list[dict[str, Any]] = []
        me = os.getpid()
        for path in self._files():
            name = path.name
            if ".claimed-" in name:
                try:
                    holder = int(name.rsplit("-", 1)[1])
                except ValueError:
                    continue
                if holder == me or _alive(holder):
                    continue
                base = name.split(".claimed-")[0]
            else:
                base = name
            target = self.dir / f"{base}.claimed-{me}"
            try:
                os.rename(path, target)
            except OSError:
                continue  # another process claimed it first
            claimed.append(target)
            with open(target, encoding="utf-8") as f:
                for line in f:
                    event = from_line(line)
                    if event is not None:
                        events.append(event)
        return claimed, events

    @staticmethod
    def release(paths: list[Path]) -> None:
        """Deletes claimed files whose events are delivered (or spooled again)."""
        for path in paths:
            try:
                path.unlink()
            except FileNotFoundError:
                pass
