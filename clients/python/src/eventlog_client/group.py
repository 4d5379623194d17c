"""django-eventlog's ``EventGroup``, sending through a :class:`~eventlog_client.Client`."""

from __future__ import annotations

import json
import uuid
from typing import Any, Callable

from .client import MAX_GROUP_LEN, MAX_INITIATOR_LEN, Client, _now, default_client


class EventGroup:
    """django-eventlog's ``EventGroup``, sending to an eventlog server.

    ``EventGroup(send_mail=None, group_id=None, *, notify=None)``: a new random group (32 hex
    digits) unless ``group_id`` names one; ``send_mail`` mails every event of the group to that
    address; ``notify`` (a list of ``[[notify.channel]]`` names, ``[]`` for none) sends every
    event of the group to those channels instead of those its type is routed to. Each event
    method takes ``notify=`` too, which wins over the group's.
    ``e.info(message, initiator=None, send_mail=None, data=None)`` and likewise ``warning``,
    ``error``, ``critical`` and any configured type; ``e.log(type, message, ...)`` names the
    type at run time.
    """

    def __init__(
        self,
        send_mail: str | None = None,
        group_id: str | None = None,
        *,
        client: Client | None = None,
        notify: list[str] | None = None,
    ) -> None:
        self.client = client or default_client()
        self.group_id = group_id or uuid.uuid4().hex
        self.send_mail = send_mail
        self.notify = notify
        self.event_types = self.client.types
        if len(self.group_id) > MAX_GROUP_LEN:
            raise TypeError(f"group_id must be at most {MAX_GROUP_LEN} characters")

    def __getattr__(self, attr: str) -> Callable[..., None]:
        if attr.startswith("__") or attr in ("client", "event_types"):
            # Python's own probes (copy, pickle) and attributes not set yet.
            raise AttributeError(attr)
        if attr in self.event_types:

            def f(*args: Any, **kwargs: Any) -> None:
                return self._log_event(attr, *args, **kwargs)

            f.__name__ = attr
            return f
        raise TypeError(f'Event type "{attr}" does not exist.')

    def log(
        self,
        event_type: str,
        message: str,
        initiator: str | None = None,
        send_mail: str | None = None,
        data: Any | None = None,
        *,
        notify: list[str] | None = None,
    ) -> None:
        """Logs an event of the type named ``event_type``, which must be configured."""
        if event_type not in self.event_types:
            raise TypeError(f'Event type "{event_type}" does not exist.')
        self._log_event(event_type, message, initiator, send_mail, data, notify=notify)

    def _log_event(
        self,
        event_type: str,
        message: str,
        initiator: str | None = None,
        send_mail: str | None = None,
        data: Any | None = None,
        *,
        notify: list[str] | None = None,
    ) -> None:
        if not isinstance(message, str) or not message:
            raise ValueError("message must be a non-empty string")
        if initiator is not None and len(initiator) > MAX_INITIATOR_LEN:
            raise ValueError(
                f"initiator is {len(initiator)} characters long; "
                f"an initiator must be at most {MAX_INITIATOR_LEN} characters"
            )
        # As django-eventlog: data that is not JSON serializable is stored as its string form.
        if data:
            try:
                json.dumps(data, allow_nan=False)
            except (TypeError, ValueError):
                data = str(data)
        event: dict[str, Any] = {
            "id": str(uuid.uuid4()),
            "type": event_type,
            "group": self.group_id,
            "message": message,
            "timestamp": _now(),
        }
        if initiator is not None:
            event["initiator"] = initiator
        if data is not None:
            event["data"] = data
        mail = send_mail or self.send_mail
        if mail:
            event["send_mail"] = mail
        channels = notify if notify is not None else self.notify
        if channels is not None:
            event["notify"] = list(channels)
        self.client.submit(event)
