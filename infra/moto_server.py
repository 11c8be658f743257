"""moto's standalone server, with DynamoDB's writes made atomic.

moto serves requests on many threads and does not lock its DynamoDB tables, so two conditional
writes that arrive together can both see the old item and both succeed. Real DynamoDB never
lets that happen, and nextdue's "at most one start per due time" rests on it. This launcher
serializes moto's DynamoDB writes (and nothing else: SQS long polls stay concurrent), then runs
moto's own server entry point with the arguments it was given.

For the same reason moto's state dump (`/moto-api/data.json`, where tests read the mail SES
"sent") can fail when a write lands while it is being encoded; the dump is taken with DynamoDB
writes paused, and tried again if another service changed under it.
"""

import functools
import sys
import threading

from moto.dynamodb.models import DynamoDBBackend
from moto.moto_api._internal.responses import MotoAPIResponse
from moto.server import main

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

if __name__ == "__main__":
    main(sys.argv[1:])
