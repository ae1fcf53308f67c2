"""A write users were told about that no replica acknowledged is counted for the operator.

Against the real redis-server of the tests, which has no replica: ``WAIT 1`` answers 0.
"""

from __future__ import annotations

import logging

import pytest

from ent_idp.metrics import REDIS_UNACKNOWLEDGED
from ent_idp.store.client import Client

pytestmark = pytest.mark.faults


def test_a_write_no_replica_acknowledged_is_counted_and_logged(stack, caplog):
    """With Sentinel, the answer still goes out when the replicas do not acknowledge (an
    outage otherwise), so the operator must see it: a failover in that window loses the
    write. The metric is what the alert watches."""
    client = Client.from_url(stack.redis.url, decode_responses=True)
    client.wait_replicas, client.wait_timeout_ms = 1, 20
    before = REDIS_UNACKNOWLEDGED._value.get()
    with caplog.at_level(logging.WARNING, logger="ent_idp.store"):
        pipe = client.acknowledged_pipeline()
        pipe.set("ent-idp-test:acknowledged", "1", ex=5)
        pipe.execute()
    client.close()
    assert REDIS_UNACKNOWLEDGED._value.get() == before + 1
    assert client.unacknowledged_writes == 1
    assert "0 of 1 replica(s)" in caplog.text
