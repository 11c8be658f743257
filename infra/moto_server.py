"""moto's standalone server, with DynamoDB's writes made atomic.

moto serves requests on many threads and does not lock its DynamoDB tables, so two conditional
writes that arrive together can both see the old item and both succeed. Real DynamoDB never
lets that happen, and nextdue's "at most one start per due time" rests on it. This launcher
serializes moto's DynamoDB writes (and nothing else: SQS long polls stay concurrent), then runs
moto's own server entry point with the arguments it was given.

Three per-request costs that only matter to a busy local stack are removed: SQS's reading of
the clock per queued message (see `_unix_time`), werkzeug's access log line (a locked write to
the log for every call) and moto's listing of its own package directory to route each request
(a directory read and some 200 `isdir` calls, under a global lock). The listing cannot change
while the server runs, so it is taken once.

It also keeps account of its own work: the CPU time each operation took to handle (thread CPU,
so time spent waiting for Python's global lock is not counted), served as JSON at
`/nextdue/emulator-cpu` (`{"DynamoDB_20120810.UpdateItem": {"calls": 904, "cpu_seconds": 12.9},
...}`). moto runs Python under one lock, so its handling is serialized: the benchmark reads
these figures to show how much of the emulator a run takes, and so where its ceiling is.

For the same reason as the writes, moto's state dump (`/moto-api/data.json`, where tests read
the mail SES "sent") can fail when a write lands while it is being encoded; the dump is taken
with DynamoDB writes paused, and tried again if another service changed under it.
"""

import functools
import json
import logging
import sys
import threading
import time

from moto import backends
from moto.dynamodb.models import DynamoDBBackend
from moto.moto_api._internal.responses import MotoAPIResponse
from moto.moto_server.werkzeug_app import DomainDispatcherApplication
from moto.server import main
from moto.sqs import models as sqs_models

_WRITES = threading.RLock()


def _serialized(method):
    @functools.wraps(method)
    def wrapper(*args, **kwargs):
        with _WRITES:
            return method(*args, **kwargs)

    return wrapper


for _name in ("put_item", "update_item", "delete_item", "transact_write_items", "get_item"):
    setattr(DynamoDBBackend, _name, _serialized(getattr(DynamoDBBackend, _name)))


def _retried(method):
    @functools.wraps(method)
    def wrapper(*args, **kwargs):
        for _ in range(4):
            try:
                with _WRITES:
                    return method(*args, **kwargs)
            except (TypeError, RuntimeError):
                continue
        with _WRITES:
            return method(*args, **kwargs)

    return wrapper


MotoAPIResponse.model_data = _retried(MotoAPIResponse.model_data)

# moto's SQS asks for the time through `unix_time()`, which builds two datetimes and subtracts
# them, for every message on every look at a queue (`visible`, `delayed`): a queue of 1,200
# messages cost about a second per ReceiveMessage and 120 ms per SendMessageBatch, most of it
# in those datetimes. With no argument it is the wall clock in epoch seconds, which
# `time.time()` gives directly (measured: receives 33 times faster, batched sends 15 times).
_slow_unix_time = sqs_models.unix_time


def _unix_time(dt=None):
    return time.time() if dt is None else _slow_unix_time(dt)


sqs_models.unix_time = _unix_time
sqs_models.unix_time_millis = lambda dt=None: _unix_time(dt) * 1000.0

_MODULES = tuple(backends.list_of_moto_modules())
backends.list_of_moto_modules = lambda: _MODULES
logging.getLogger("werkzeug").setLevel(logging.WARNING)

_CPU: dict[str, list[float]] = {}
_CPU_LOCK = threading.Lock()


def _operation(environ):
    """The operation a request asks for: the JSON protocols' target, else method and path."""
    target = environ.get("HTTP_X_AMZ_TARGET")
    if target:
        return target
    segments = [s for s in environ.get("PATH_INFO", "").split("/") if s]
    # REST paths name resources after a prefix: SES v2's /v2/email/<what>, Scheduler's /<what>/<name>.
    kept = segments[:3] if segments[:1] == ["v2"] else segments[:1]
    return f"{environ.get('REQUEST_METHOD', '?')} /{'/'.join(kept)}"


def _accounted(app):
    @functools.wraps(app)
    def wrapper(self, environ, start_response):
        if environ.get("PATH_INFO") == "/nextdue/emulator-cpu":
            with _CPU_LOCK:
                body = json.dumps(
                    {op: {"calls": int(c), "cpu_seconds": s} for op, (c, s) in _CPU.items()}
                ).encode()
            start_response("200 OK", [("Content-Type", "application/json")])
            return [body]
        started = time.thread_time()
        response = app(self, environ, start_response)
        spent = time.thread_time() - started
        with _CPU_LOCK:
            entry = _CPU.setdefault(_operation(environ), [0, 0.0])
            entry[0] += 1
            entry[1] += spent
        return response

    return wrapper


DomainDispatcherApplication.__call__ = _accounted(DomainDispatcherApplication.__call__)

if __name__ == "__main__":
    main(sys.argv[1:])
