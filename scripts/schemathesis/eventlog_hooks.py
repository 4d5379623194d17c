"""Schemathesis hooks for eventlog's API (loaded by scripts/check-api through SCHEMATHESIS_HOOKS).

`POST /api/v1/events` also takes JSON Lines (`application/x-ndjson`): the document describes that
body as an array of event objects, one per line. Schemathesis has no serializer for that media
type, so this one writes each generated item as one line of compact JSON.
"""

import json

import schemathesis


@schemathesis.serializer("application/x-ndjson")
def json_lines(ctx, value):
    items = value if isinstance(value, list) else [value]
    return "".join(json.dumps(item, ensure_ascii=False) + "\n" for item in items).encode("utf-8")
