"""moto's standalone server, with DynamoDB's writes made atomic.

moto serves requests on many threads and does not lock its DynamoDB tables, so two conditional
writes that arrive together can both see the old item and both succeed. Real DynamoDB never
lets that happen, and nextdue's "at most one start per due time" rests on it. This launcher
serializes moto's DynamoDB writes (and nothing else: SQS long polls stay concurrent), then runs
moto's own server entry point with the arguments it was given.
"""

import functools
import sys
import threading

from moto.dynamodb.models import DynamoDBBackend
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

if __name__ == "__main__":
    main(sys.argv[1:])
