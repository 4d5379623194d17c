"""eventlog-client: django-eventlog's ``EventGroup`` API for an eventlog server.

Switch a Django project from django-eventlog by changing one import::

    from eventlog_client import EventGroup   # was: from eventlog import EventGroup

    e = EventGroup()
    e.info("About to send 1000 mails.", initiator="Mailer Daemon")

The server URL and API token come from ``EVENTLOG_URL`` and ``EVENTLOG_TOKEN`` (or
``configure(url=..., token=...)``); the event types from ``EVENTLOG_TYPES`` (or
``configure(types=[...])``), default info, warning, error, critical. Standard library only.
"""

__version__ = "0.1.0"

from .client import (
    DEFAULT_TYPES,
    Client,
    ConfigurationError,
    DeliveryError,
    configure,
    default_client,
    flush,
)
from .group import EventGroup

__all__ = [
    "__version__",
    "DEFAULT_TYPES",
    "Client",
    "ConfigurationError",
    "DeliveryError",
    "EventGroup",
    "configure",
    "default_client",
    "flush",
]
