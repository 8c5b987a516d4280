"""Real event payloads recorded from nats-server 2.15.1 (user JWTs replaced).

Used by tests, benchmarks and the demo to build events and synthetic storms whose
bytes have the layout the server writes.
"""

from __future__ import annotations

import asyncio
import json
import math
import time
from collections.abc import Awaitable, Callable
from typing import Any

#: A syntactically valid but fake user JWT that stands in for the real one.
FAKE_JWT = (
    "eyJ0eXAiOiJKV1QiLCJhbGciOiJlZDI1NTE5LW5rZXkifQ.eyJ"
    "zYW1wbGUiOiJub3QgYSByZWFsIHVzZXIifQ.c2FtcGxlLXNpZ2"
    "5hdHVyZQ"
)
#: name -> (subject, source, payload)
SAMPLES: dict[str, tuple[str, str, dict[str, Any]]] = {
    "account_conns": (
        (
            "$SYS.ACCOUNT.AB6ZX45NHPLQQH3C5OJVN6BUV2UMH5X6VOOCM"
            "C2YFDMI2U62L3CLU7AS.SERVER.CONNS"
        ),
        "system",
        {
            "type": "io.nats.server.advisory.v1.account_connections",
            "id": "TD45YSwH9VGuauiHTKR5at",
            "timestamp": "2026-12-03T20:50:35.576541385Z",
            "server": {
                "name": "c1-n3",
                "host": "127.0.0.1",
                "id": ("NAFM35RX3PG3YEYWYQ46T42A3K7VGVM463MD6ZEQYTGIGRYZNHVD6TIO"),
                "cluster": "c1",
                "ver": "2.15.1",
                "feature_flags": {
                    "js_ack_fc_v2": False,
                    "js_api_reply_v2": False,
                    "js_raft_delete_range": True,
                    "js_snapshot_sources": False,
                },
                "jetstream": True,
                "flags": 7,
                "seq": 24,
                "time": "2026-12-03T20:50:35.576598299Z",
            },
            "acc": ("AB6ZX45NHPLQQH3C5OJVN6BUV2UMH5X6VOOCMC2YFDMI2U62L3CLU7AS"),
            "name": "APP",
            "conns": 1,
            "leafnodes": 0,
            "total_conns": 1,
            "num_subscriptions": 5,
            "sent": {
                "msgs": 0,
                "bytes": 0,
                "gateways": {"msgs": 0, "bytes": 0},
                "routes": {"msgs": 0, "bytes": 0},
                "leafs": {"msgs": 0, "bytes": 0},
            },
            "received": {
                "msgs": 0,
                "bytes": 0,
                "gateways": {"msgs": 0, "bytes": 0},
                "routes": {"msgs": 0, "bytes": 0},
                "leafs": {"msgs": 0, "bytes": 0},
            },
            "slow_consumers": 0,
        },
    ),
    "account_conns_legacy": (
        (
            "$SYS.SERVER.ACCOUNT.AB6ZX45NHPLQQH3C5OJVN6BUV2UMH5"
            "X6VOOCMC2YFDMI2U62L3CLU7AS.CONNS"
        ),
        "system",
        {
            "type": "io.nats.server.advisory.v1.account_connections",
            "id": "jDK7p1GxIE1eXtHdbI9uKw",
            "timestamp": "2026-12-03T20:50:35.569034285Z",
            "server": {
                "name": "c1-n1",
                "host": "127.0.0.1",
                "id": ("NAHJ2Y5XAEUI7GBFAPJY33VRQFH6GWTLCUGR2AWJOKKL55C6BZHTFL5G"),
                "cluster": "c1",
                "ver": "2.15.1",
                "feature_flags": {
                    "js_ack_fc_v2": False,
                    "js_api_reply_v2": False,
                    "js_raft_delete_range": True,
                    "js_snapshot_sources": False,
                },
                "jetstream": True,
                "flags": 7,
                "seq": 20,
                "time": "2026-12-03T20:50:35.569176506Z",
            },
            "acc": ("AB6ZX45NHPLQQH3C5OJVN6BUV2UMH5X6VOOCMC2YFDMI2U62L3CLU7AS"),
            "name": "APP",
            "conns": 1,
            "leafnodes": 0,
            "total_conns": 1,
            "num_subscriptions": 5,
            "sent": {
                "msgs": 0,
                "bytes": 0,
                "gateways": {"msgs": 0, "bytes": 0},
                "routes": {"msgs": 0, "bytes": 0},
                "leafs": {"msgs": 0, "bytes": 0},
            },
            "received": {
                "msgs": 0,
                "bytes": 0,
                "gateways": {"msgs": 0, "bytes": 0},
                "routes": {"msgs": 0, "bytes": 0},
                "leafs": {"msgs": 0, "bytes": 0},
            },
            "slow_consumers": 0,
        },
    ),
    "api_audit": (
        "$JS.EVENT.ADVISORY.API",
        "system",
        {
            "type": "io.nats.jetstream.advisory.v1.api_audit",
            "id": "MAWCmzGisuX0vVuUAXec8y",
            "timestamp": "2026-12-03T20:50:41.448430613Z",
            "server": "c1-n2",
            "client": {},
            "subject": "$JS.API.META.LEADER.STEPDOWN",
            "response": (
                '{"type":"io.nats.jetstream.api.v1.meta_leader_step'
                'down_response","success":true}'
            ),
        },
    ),
    "api_audit@account": (
        "$JS.EVENT.ADVISORY.API",
        "APP",
        {
            "type": "io.nats.jetstream.advisory.v1.api_audit",
            "id": "2BlRs8pjOYoNxmPUkO5Nk8",
            "timestamp": "2026-12-03T20:50:35.667034039Z",
            "server": "c1-n3",
            "client": {
                "start": "2026-12-03T20:50:35.563950551Z",
                "host": "127.0.0.1",
                "id": 17,
                "acc": ("AB6ZX45NHPLQQH3C5OJVN6BUV2UMH5X6VOOCMC2YFDMI2U62L3CLU7AS"),
                "user": ("UBC4DH456SLIA5AINVARTQY6KS4E7Q7PPGUTCIQOKZY7ZKKT6DNRPOSF"),
                "name": "capapp",
                "lang": "python3",
                "ver": "2.16.0",
                "rtt": 1885138,
                "server": "c1-n1",
                "cluster": "c1",
                "name_tag": "app",
                "kind": "Client",
                "client_type": "nats",
            },
            "subject": "$JS.API.STREAM.CREATE.ORDERS",
            "response": (
                '{"type":"io.nats.jetstream.api.v1.stream_create_re'
                'sponse","config":{"name":"ORDERS","subjects":["ord'
                'ers.\\u003e"],"retention":"limits","max_consumers":'
                '-1,"max_msgs":-1,"max_bytes":-1,"max_age":0,"max_m'
                'sgs_per_subject":-1,"max_msg_size":-1,"discard":"o'
                'ld","storage":"file","num_replicas":3,"duplicate_w'
                'indow":120000000000,"compression":"none","allow_di'
                'rect":false,"mirror_direct":false,"sealed":false,"'
                'deny_delete":false,"deny_purge":false,"allow_rollu'
                'p_hdrs":false,"consumer_limits":{},"allow_msg_ttl"'
                ':false,"metadata":{"_nats.level":"5","_nats.req.le'
                'vel":"0","_nats.ver":"2.15.1"}},"created":"2026-12'
                '-03T20:50:35.584738829Z","state":{"messages":0,"by'
                'tes":0,"first_seq":0,"first_ts":"0001-01-01T00:00:'
                '00Z","last_seq":0,"last_ts":"0001-01-01T00:00:00Z"'
                ',"consumer_count":0},"cluster":{"name":"c1","raft_'
                'group":"S-R3F-u8M84qz0","leader":"c1-n3","leader_s'
                'ince":"2026-12-03T20:50:35.666691931Z","system_acc'
                'ount":true,"traffic_account":"ACPZCOIEPTUUTC66N2A4'
                'FGYME43VKLGYXG2YI7Z5FR7AAJ5YCMPQMH4H","replicas":['
                '{"name":"c1-n1","current":true,"active":227016,"pe'
                'er":"H0UwUkZd"},{"name":"c1-n2","current":false,"a'
                'ctive":0,"lag":1,"peer":"ooo7kGPy"}]},"ts":"2026-1'
                '2-03T20:50:35.666888332Z","did_create":true}'
            ),
        },
    ),
    "api_audit_error@account": (
        "$JS.EVENT.ADVISORY.API",
        "APP",
        {
            "type": "io.nats.jetstream.advisory.v1.api_audit",
            "id": "MAWCmzGisuX0vVuUAXec3m",
            "timestamp": "2026-12-03T20:50:41.40817023Z",
            "server": "c1-n2",
            "client": {
                "start": "2026-12-03T20:50:35.563950551Z",
                "host": "127.0.0.1",
                "id": 17,
                "acc": ("AB6ZX45NHPLQQH3C5OJVN6BUV2UMH5X6VOOCMC2YFDMI2U62L3CLU7AS"),
                "user": ("UBC4DH456SLIA5AINVARTQY6KS4E7Q7PPGUTCIQOKZY7ZKKT6DNRPOSF"),
                "name": "capapp",
                "lang": "python3",
                "ver": "2.16.0",
                "rtt": 351972,
                "server": "c1-n1",
                "cluster": "c1",
                "issuer_key": (
                    "AB6ZX45NHPLQQH3C5OJVN6BUV2UMH5X6VOOCMC2YFDMI2U62L3CLU7AS"
                ),
                "name_tag": "app",
                "kind": "Client",
                "client_type": "nats",
            },
            "subject": "$JS.API.STREAM.CREATE.ORDERS",
            "request": '{"name":"ORDERS","subjects":["other.>"],"bogus":1}',
            "response": (
                '{"type":"io.nats.jetstream.api.v1.stream_create_re'
                'sponse","error":{"code":400,"err_code":10025,"desc'
                'ription":"invalid JSON: json: unknown field \\"bogu'
                's\\""}}'
            ),
        },
    ),
    "auth_error": (
        (
            "$SYS.SERVER.NAFM35RX3PG3YEYWYQ46T42A3K7VGVM463MD6Z"
            "EQYTGIGRYZNHVD6TIO.CLIENT.AUTH.ERR"
        ),
        "system",
        {
            "type": "io.nats.server.advisory.v1.client_disconnect",
            "id": "TD45YSwH9VGuauiHTKR5u9",
            "timestamp": "2026-12-03T20:50:35.579516169Z",
            "server": {
                "name": "c1-n3",
                "host": "127.0.0.1",
                "id": ("NAFM35RX3PG3YEYWYQ46T42A3K7VGVM463MD6ZEQYTGIGRYZNHVD6TIO"),
                "cluster": "c1",
                "ver": "2.15.1",
                "feature_flags": {
                    "js_ack_fc_v2": False,
                    "js_api_reply_v2": False,
                    "js_raft_delete_range": True,
                    "js_snapshot_sources": False,
                },
                "jetstream": True,
                "flags": 7,
                "seq": 31,
                "time": "2026-12-03T20:50:35.579561046Z",
            },
            "client": {
                "start": "2026-12-03T20:50:35.578720568Z",
                "host": "127.0.0.1",
                "id": 20,
                "acc": "$G",
                "user": "nobody",
                "name": "intruder",
                "lang": "python3",
                "ver": "2.16.0",
                "rtt": 720000,
                "stop": "2026-12-03T20:50:35.579516169Z",
                "name_tag": "$G",
                "kind": "Client",
                "client_type": "nats",
            },
            "sent": {"msgs": 0, "bytes": 0},
            "received": {"msgs": 0, "bytes": 0},
            "reason": "Authentication Failure",
        },
    ),
    "auth_failure_disconnect": (
        "$SYS.ACCOUNT.$G.DISCONNECT",
        "system",
        {
            "type": "io.nats.server.advisory.v1.client_disconnect",
            "id": "TD45YSwH9VGuauiHTKR5xM",
            "timestamp": "2026-12-03T20:50:35.579519364Z",
            "server": {
                "name": "c1-n3",
                "host": "127.0.0.1",
                "id": ("NAFM35RX3PG3YEYWYQ46T42A3K7VGVM463MD6ZEQYTGIGRYZNHVD6TIO"),
                "cluster": "c1",
                "ver": "2.15.1",
                "feature_flags": {
                    "js_ack_fc_v2": False,
                    "js_api_reply_v2": False,
                    "js_raft_delete_range": True,
                    "js_snapshot_sources": False,
                },
                "jetstream": True,
                "flags": 7,
                "seq": 32,
                "time": "2026-12-03T20:50:35.579576979Z",
            },
            "client": {
                "start": "2026-12-03T20:50:35.578720568Z",
                "host": "127.0.0.1",
                "id": 20,
                "acc": "$G",
                "user": "nobody",
                "name": "intruder",
                "lang": "python3",
                "ver": "2.16.0",
                "rtt": 720000,
                "stop": "2026-12-03T20:50:35.579519364Z",
                "name_tag": "$G",
                "kind": "Client",
                "client_type": "nats",
            },
            "sent": {"msgs": 0, "bytes": 0},
            "received": {"msgs": 0, "bytes": 0},
            "reason": "Authentication Failure",
        },
    ),
    "connect": (
        (
            "$SYS.ACCOUNT.AB6ZX45NHPLQQH3C5OJVN6BUV2UMH5X6VOOCM"
            "C2YFDMI2U62L3CLU7AS.CONNECT"
        ),
        "system",
        {
            "type": "io.nats.server.advisory.v1.client_connect",
            "id": "TD45YSwH9VGuauiHTKR5e6",
            "timestamp": "2026-12-03T20:50:35.576546883Z",
            "server": {
                "name": "c1-n3",
                "host": "127.0.0.1",
                "id": ("NAFM35RX3PG3YEYWYQ46T42A3K7VGVM463MD6ZEQYTGIGRYZNHVD6TIO"),
                "cluster": "c1",
                "ver": "2.15.1",
                "feature_flags": {
                    "js_ack_fc_v2": False,
                    "js_api_reply_v2": False,
                    "js_raft_delete_range": True,
                    "js_snapshot_sources": False,
                },
                "jetstream": True,
                "flags": 7,
                "seq": 25,
                "time": "2026-12-03T20:50:35.576607884Z",
            },
            "client": {
                "start": "2026-12-03T20:50:35.573595514Z",
                "host": "127.0.0.1",
                "id": 19,
                "acc": ("AB6ZX45NHPLQQH3C5OJVN6BUV2UMH5X6VOOCMC2YFDMI2U62L3CLU7AS"),
                "user": ("UBC4DH456SLIA5AINVARTQY6KS4E7Q7PPGUTCIQOKZY7ZKKT6DNRPOSF"),
                "name": "billing",
                "lang": "python3",
                "ver": "2.16.0",
                "jwt": (
                    "eyJ0eXAiOiJKV1QiLCJhbGciOiJlZDI1NTE5LW5rZXkifQ.eyJ"
                    "zYW1wbGUiOiJub3QgYSByZWFsIHVzZXIifQ.c2FtcGxlLXNpZ2"
                    "5hdHVyZQ"
                ),
                "issuer_key": (
                    "AB6ZX45NHPLQQH3C5OJVN6BUV2UMH5X6VOOCMC2YFDMI2U62L3CLU7AS"
                ),
                "name_tag": "APP",
                "kind": "Client",
                "client_type": "nats",
            },
        },
    ),
    "consumer_created@account": (
        "$JS.EVENT.ADVISORY.CONSUMER.CREATED.ORDERS.C1",
        "APP",
        {
            "type": "io.nats.jetstream.advisory.v1.consumer_action",
            "id": "MAWCmzGisuX0vVuUAXebj0",
            "timestamp": "2026-12-03T20:50:35.753791469Z",
            "stream": "ORDERS",
            "consumer": "C1",
            "action": "create",
        },
    ),
    "consumer_deleted@account": (
        "$JS.EVENT.ADVISORY.CONSUMER.DELETED.ORDERS.C1",
        "APP",
        {
            "type": "io.nats.jetstream.advisory.v1.consumer_action",
            "id": "2BlRs8pjOYoNxmPUkO5OLQ",
            "timestamp": "2026-12-03T20:50:41.426397698Z",
            "stream": "ORDERS",
            "consumer": "C1",
            "action": "delete",
        },
    ),
    "consumer_leader_elected": (
        ("$JS.EVENT.ADVISORY.CONSUMER.LEADER_ELECTED.ORDERS.C1"),
        "system",
        {
            "type": ("io.nats.jetstream.advisory.v1.consumer_leader_elected"),
            "id": "MAWCmzGisuX0vVuUAXebYc",
            "timestamp": "2026-12-03T20:50:35.751706836Z",
            "account": ("AB6ZX45NHPLQQH3C5OJVN6BUV2UMH5X6VOOCMC2YFDMI2U62L3CLU7AS"),
            "stream": "ORDERS",
            "consumer": "C1",
            "leader": "c1-n2",
            "replicas": [
                {
                    "name": "c1-n2",
                    "current": True,
                    "active": 14863396,
                    "peer": "ooo7kGPy",
                },
                {
                    "name": "c1-n3",
                    "current": False,
                    "active": 0,
                    "lag": 1,
                    "peer": "28f6SsNs",
                },
                {
                    "name": "c1-n1",
                    "current": True,
                    "active": 268969,
                    "peer": "H0UwUkZd",
                },
            ],
        },
    ),
    "consumer_leader_elected@account": (
        ("$JS.EVENT.ADVISORY.CONSUMER.LEADER_ELECTED.ORDERS.C1"),
        "APP",
        {
            "type": ("io.nats.jetstream.advisory.v1.consumer_leader_elected"),
            "id": "MAWCmzGisuX0vVuUAXebYc",
            "timestamp": "2026-12-03T20:50:35.751706836Z",
            "stream": "ORDERS",
            "consumer": "C1",
            "leader": "c1-n2",
            "replicas": [
                {
                    "name": "c1-n2",
                    "current": True,
                    "active": 14863396,
                    "peer": "ooo7kGPy",
                },
                {
                    "name": "c1-n3",
                    "current": False,
                    "active": 0,
                    "lag": 1,
                    "peer": "28f6SsNs",
                },
                {
                    "name": "c1-n1",
                    "current": True,
                    "active": 268969,
                    "peer": "H0UwUkZd",
                },
            ],
        },
    ),
    "consumer_max_deliveries@account": (
        ("$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.ORDERS.C1"),
        "APP",
        {
            "type": "io.nats.jetstream.advisory.v1.max_deliver",
            "id": "2BlRs8pjOYoNxmPUkO5NzU",
            "timestamp": "2026-12-03T20:50:39.272567853Z",
            "stream": "ORDERS",
            "consumer": "C1",
            "stream_seq": 3,
            "deliveries": 1,
        },
    ),
    "consumer_nak@account": (
        "$JS.EVENT.ADVISORY.CONSUMER.MSG_NAKED.ORDERS.C1",
        "APP",
        {
            "type": "io.nats.jetstream.advisory.v1.nak",
            "id": "2BlRs8pjOYoNxmPUkO5Nv6",
            "timestamp": "2026-12-03T20:50:38.780908891Z",
            "stream": "ORDERS",
            "consumer": "C1",
            "consumer_seq": 1,
            "stream_seq": 1,
            "deliveries": 1,
        },
    ),
    "consumer_pause@account": (
        "$JS.EVENT.ADVISORY.CONSUMER.PAUSE.ORDERS.C1",
        "APP",
        {
            "type": "io.nats.jetstream.advisory.v1.consumer_pause",
            "id": "2BlRs8pjOYoNxmPUkO5O1g",
            "timestamp": "2026-12-03T20:50:40.289601006Z",
            "stream": "ORDERS",
            "consumer": "C1",
            "paused": True,
            "pause_until": "2026-12-03T20:51:40Z",
        },
    ),
    "consumer_pinned@account": (
        "$JS.EVENT.ADVISORY.CONSUMER.PINNED.ORDERS.P1",
        "APP",
        {
            "type": ("io.nats.jetstream.advisory.v1.consumer_group_pinned"),
            "id": "2BlRs8pjOYoNxmPUkO5OCe",
            "timestamp": "2026-12-03T20:50:40.402745964Z",
            "account": ("AB6ZX45NHPLQQH3C5OJVN6BUV2UMH5X6VOOCMC2YFDMI2U62L3CLU7AS"),
            "stream": "ORDERS",
            "consumer": "P1",
            "group": "g1",
            "pinned_id": "2BlRs8pjOYoNxmPUkO5OAS",
        },
    ),
    "consumer_quorum_lost": (
        "$JS.EVENT.ADVISORY.CONSUMER.QUORUM_LOST.ORDERS.P1",
        "system",
        {
            "type": "io.nats.jetstream.advisory.v1.consumer_quorum_lost",
            "id": "A2DfCSS2295OPtK7ta6HAw",
            "timestamp": "2026-12-03T20:51:03.572334026Z",
            "account": ("AB6ZX45NHPLQQH3C5OJVN6BUV2UMH5X6VOOCMC2YFDMI2U62L3CLU7AS"),
            "stream": "ORDERS",
            "consumer": "P1",
            "replicas": [
                {
                    "name": "c1-n2",
                    "current": False,
                    "offline": True,
                    "active": 19998181978,
                    "peer": "ooo7kGPy",
                },
                {
                    "name": "c1-n3",
                    "current": False,
                    "offline": True,
                    "active": 0,
                    "peer": "28f6SsNs",
                },
                {
                    "name": "c1-n1",
                    "current": True,
                    "active": 20010930065,
                    "peer": "H0UwUkZd",
                },
            ],
        },
    ),
    "consumer_quorum_lost@account": (
        "$JS.EVENT.ADVISORY.CONSUMER.QUORUM_LOST.ORDERS.P1",
        "APP",
        {
            "type": "io.nats.jetstream.advisory.v1.consumer_quorum_lost",
            "id": "A2DfCSS2295OPtK7ta6HAw",
            "timestamp": "2026-12-03T20:51:03.572334026Z",
            "stream": "ORDERS",
            "consumer": "P1",
            "replicas": [
                {
                    "name": "c1-n2",
                    "current": False,
                    "offline": True,
                    "active": 19998181978,
                    "peer": "ooo7kGPy",
                },
                {
                    "name": "c1-n3",
                    "current": False,
                    "offline": True,
                    "active": 0,
                    "peer": "28f6SsNs",
                },
                {
                    "name": "c1-n1",
                    "current": True,
                    "active": 20010930065,
                    "peer": "H0UwUkZd",
                },
            ],
        },
    ),
    "consumer_terminated@account": (
        ("$JS.EVENT.ADVISORY.CONSUMER.MSG_TERMINATED.ORDERS.C1"),
        "APP",
        {
            "type": "io.nats.jetstream.advisory.v1.terminated",
            "id": "2BlRs8pjOYoNxmPUkO5NxI",
            "timestamp": "2026-12-03T20:50:38.783908582Z",
            "stream": "ORDERS",
            "consumer": "C1",
            "consumer_seq": 2,
            "stream_seq": 2,
            "deliveries": 1,
        },
    ),
    "consumer_unpinned@account": (
        "$JS.EVENT.ADVISORY.CONSUMER.UNPINNED.ORDERS.P1",
        "APP",
        {
            "type": ("io.nats.jetstream.advisory.v1.consumer_group_unpinned"),
            "id": "2BlRs8pjOYoNxmPUkO5OEq",
            "timestamp": "2026-12-03T20:50:41.403732404Z",
            "account": ("AB6ZX45NHPLQQH3C5OJVN6BUV2UMH5X6VOOCMC2YFDMI2U62L3CLU7AS"),
            "stream": "ORDERS",
            "consumer": "P1",
            "group": "g1",
            "reason": "timeout",
        },
    ),
    "disconnect": (
        (
            "$SYS.ACCOUNT.AB6ZX45NHPLQQH3C5OJVN6BUV2UMH5X6VOOCM"
            "C2YFDMI2U62L3CLU7AS.DISCONNECT"
        ),
        "system",
        {
            "type": "io.nats.server.advisory.v1.client_disconnect",
            "id": "TD45YSwH9VGuauiHTKR5nj",
            "timestamp": "2026-12-03T20:50:35.578276119Z",
            "server": {
                "name": "c1-n3",
                "host": "127.0.0.1",
                "id": ("NAFM35RX3PG3YEYWYQ46T42A3K7VGVM463MD6ZEQYTGIGRYZNHVD6TIO"),
                "cluster": "c1",
                "ver": "2.15.1",
                "feature_flags": {
                    "js_ack_fc_v2": False,
                    "js_api_reply_v2": False,
                    "js_raft_delete_range": True,
                    "js_snapshot_sources": False,
                },
                "jetstream": True,
                "flags": 7,
                "seq": 29,
                "time": "2026-12-03T20:50:35.578830942Z",
            },
            "client": {
                "start": "2026-12-03T20:50:35.573595514Z",
                "host": "127.0.0.1",
                "id": 19,
                "acc": ("AB6ZX45NHPLQQH3C5OJVN6BUV2UMH5X6VOOCMC2YFDMI2U62L3CLU7AS"),
                "user": ("UBC4DH456SLIA5AINVARTQY6KS4E7Q7PPGUTCIQOKZY7ZKKT6DNRPOSF"),
                "name": "billing",
                "lang": "python3",
                "ver": "2.16.0",
                "rtt": 2401013,
                "stop": "2026-12-03T20:50:35.578276119Z",
                "jwt": (
                    "eyJ0eXAiOiJKV1QiLCJhbGciOiJlZDI1NTE5LW5rZXkifQ.eyJ"
                    "zYW1wbGUiOiJub3QgYSByZWFsIHVzZXIifQ.c2FtcGxlLXNpZ2"
                    "5hdHVyZQ"
                ),
                "issuer_key": (
                    "AB6ZX45NHPLQQH3C5OJVN6BUV2UMH5X6VOOCMC2YFDMI2U62L3CLU7AS"
                ),
                "name_tag": "APP",
                "kind": "Client",
                "client_type": "nats",
            },
            "sent": {"msgs": 0, "bytes": 0},
            "received": {"msgs": 0, "bytes": 0},
            "reason": "Client Closed",
        },
    ),
    "disconnect_config": (
        "$SYS.ACCOUNT.APP.DISCONNECT",
        "system",
        {
            "type": "io.nats.server.advisory.v1.client_disconnect",
            "id": "GLlkq08C646nBjO0ILG7Vo",
            "timestamp": "2026-12-03T20:34:03.784531349Z",
            "server": {
                "name": "c1-n3",
                "host": "127.0.0.1",
                "id": ("ND7JYIRWFV2SP5J4OSQGYT5VYXMMXT5TPBYXDMDI4PPTQK4LYSWCMK2H"),
                "cluster": "c1",
                "ver": "2.15.1",
                "feature_flags": {
                    "js_ack_fc_v2": False,
                    "js_api_reply_v2": False,
                    "js_raft_delete_range": True,
                    "js_snapshot_sources": False,
                },
                "jetstream": True,
                "flags": 7,
                "seq": 24,
                "time": "2026-12-03T20:34:03.784573441Z",
            },
            "client": {
                "start": "2026-12-03T20:34:03.782554345Z",
                "host": "127.0.0.1",
                "id": 27,
                "acc": "APP",
                "user": "app",
                "name": "billing",
                "lang": "python3",
                "ver": "2.16.0",
                "rtt": 516000,
                "stop": "2026-12-03T20:34:03.784531349Z",
                "name_tag": "APP",
                "kind": "Client",
                "client_type": "nats",
            },
            "sent": {"msgs": 0, "bytes": 0},
            "received": {"msgs": 0, "bytes": 0},
            "reason": "Client Closed",
        },
    ),
    "lame_duck": (
        (
            "$SYS.SERVER.NBQWD75LIGHVLER7BMULGHYTGHKJTSZ6ZWGM6D"
            "UTW7M6M7OTDJT6K57I.LAMEDUCK"
        ),
        "system",
        {
            "name": "c1-n2",
            "host": "127.0.0.1",
            "id": ("NBQWD75LIGHVLER7BMULGHYTGHKJTSZ6ZWGM6DUTW7M6M7OTDJT6K57I"),
            "cluster": "c1",
            "ver": "2.15.1",
            "feature_flags": {
                "js_ack_fc_v2": False,
                "js_api_reply_v2": False,
                "js_raft_delete_range": True,
                "js_snapshot_sources": False,
            },
            "jetstream": True,
            "flags": 7,
            "seq": 96,
            "time": "2026-12-03T20:35:15.80782447Z",
        },
    ),
    "meta_leader_elected": (
        "$JS.EVENT.ADVISORY.DOMAIN.LEADER_ELECTED",
        "system",
        {
            "type": ("io.nats.jetstream.advisory.v1.domain_leader_elected"),
            "id": "A2DfCSS2295OPtK7ta6GWA",
            "timestamp": "2026-12-03T20:50:41.478534795Z",
            "leader": "H0UwUkZd",
            "replicas": [
                {
                    "name": "c1-n2",
                    "current": False,
                    "active": 0,
                    "lag": 11,
                    "peer": "ooo7kGPy",
                },
                {
                    "name": "c1-n1",
                    "current": True,
                    "active": 11451353,
                    "peer": "H0UwUkZd",
                },
                {
                    "name": "c1-n3",
                    "current": True,
                    "active": 132877,
                    "peer": "28f6SsNs",
                },
            ],
            "cluster": "c1",
        },
    ),
    "shutdown": (
        (
            "$SYS.SERVER.NAFM35RX3PG3YEYWYQ46T42A3K7VGVM463MD6Z"
            "EQYTGIGRYZNHVD6TIO.SHUTDOWN"
        ),
        "system",
        {
            "name": "c1-n3",
            "host": "127.0.0.1",
            "id": ("NAFM35RX3PG3YEYWYQ46T42A3K7VGVM463MD6ZEQYTGIGRYZNHVD6TIO"),
            "cluster": "c1",
            "ver": "2.15.1",
            "feature_flags": {
                "js_ack_fc_v2": False,
                "js_api_reply_v2": False,
                "js_raft_delete_range": True,
                "js_snapshot_sources": False,
            },
            "jetstream": True,
            "flags": 7,
            "seq": 71,
            "time": "2026-12-03T20:50:43.541539925Z",
        },
    ),
    "statsz": (
        ("$SYS.SERVER.NA7EOJPIOU2CAEFSFQXZDBUEVH26GDKLVMVJ7CI7HYHXYQQRUMVDJHFQ.STATSZ"),
        "system",
        {
            "server": {
                "name": "c1-n2",
                "host": "127.0.0.1",
                "id": ("NA7EOJPIOU2CAEFSFQXZDBUEVH26GDKLVMVJ7CI7HYHXYQQRUMVDJHFQ"),
                "cluster": "c1",
                "ver": "2.15.1",
                "feature_flags": {
                    "js_ack_fc_v2": False,
                    "js_api_reply_v2": False,
                    "js_raft_delete_range": True,
                    "js_snapshot_sources": False,
                },
                "jetstream": True,
                "flags": 7,
                "seq": 40,
                "time": "2026-12-03T20:50:36.144899186Z",
            },
            "statsz": {
                "start": "2026-12-03T20:50:35.041396995Z",
                "mem": 21192704,
                "cores": 2,
                "cpu": 8,
                "connections": 0,
                "total_connections": 2,
                "active_accounts": 2,
                "subscriptions": 251,
                "sent": {"msgs": 94, "bytes": 50069},
                "sent_to_clients": {"msgs": 7, "bytes": 13633},
                "received": {"msgs": 81, "bytes": 39815},
                "received_from_clients": {"msgs": 4, "bytes": 40},
                "slow_consumers": 0,
                "routes": [
                    {
                        "rid": 10,
                        "name": "c1-n3",
                        "sent": {"msgs": 0, "bytes": 0},
                        "received": {"msgs": 0, "bytes": 0},
                        "pending": 0,
                    },
                    {
                        "rid": 13,
                        "name": "c1-n3",
                        "sent": {"msgs": 0, "bytes": 0},
                        "received": {"msgs": 0, "bytes": 0},
                        "pending": 0,
                    },
                ],
                "active_servers": 3,
                "jetstream": {
                    "config": {
                        "max_memory": 268435456,
                        "max_storage": 2147483648,
                        "sync_interval": 120000000000,
                        "compress_ok": True,
                        "strict": True,
                    },
                    "stats": {
                        "memory": 0,
                        "storage": 120,
                        "reserved_memory": 0,
                        "reserved_storage": 0,
                        "accounts": 1,
                        "ha_assets": 3,
                        "api": {"level": 5, "total": 1, "errors": 0},
                    },
                    "meta": {
                        "name": "c1",
                        "leader": "c1-n2",
                        "peer": "ooo7kGPy",
                        "replicas": [
                            {
                                "name": "c1-n1",
                                "current": True,
                                "active": 471081671,
                                "peer": "H0UwUkZd",
                            },
                            {
                                "name": "c1-n3",
                                "current": True,
                                "active": 466952304,
                                "peer": "28f6SsNs",
                            },
                        ],
                        "cluster_size": 3,
                        "quorum_needed": 2,
                        "pending": 0,
                        "pending_requests": 0,
                        "pending_infos": 0,
                        "snapshot": {
                            "pending_entries": 2,
                            "pending_size": 2165,
                            "last_time": "0001-01-01T00:00:00Z",
                        },
                    },
                    "limits": {"default_max_consumers": 1000},
                },
                "gomaxprocs": 2,
            },
        },
    ),
    "stream_created@account": (
        "$JS.EVENT.ADVISORY.STREAM.CREATED.ORDERS",
        "APP",
        {
            "type": "io.nats.jetstream.advisory.v1.stream_action",
            "id": "2BlRs8pjOYoNxmPUkO5NmK",
            "timestamp": "2026-12-03T20:50:35.667072476Z",
            "stream": "ORDERS",
            "action": "create",
        },
    ),
    "stream_leader_elected": (
        "$JS.EVENT.ADVISORY.STREAM.LEADER_ELECTED.ORDERS",
        "system",
        {
            "type": ("io.nats.jetstream.advisory.v1.stream_leader_elected"),
            "id": "2BlRs8pjOYoNxmPUkO5Nhw",
            "timestamp": "2026-12-03T20:50:35.666725501Z",
            "account": ("AB6ZX45NHPLQQH3C5OJVN6BUV2UMH5X6VOOCMC2YFDMI2U62L3CLU7AS"),
            "stream": "ORDERS",
            "leader": "c1-n3",
            "replicas": [
                {
                    "name": "c1-n2",
                    "current": False,
                    "active": 0,
                    "lag": 1,
                    "peer": "ooo7kGPy",
                },
                {
                    "name": "c1-n3",
                    "current": True,
                    "active": 4314874,
                    "peer": "28f6SsNs",
                },
                {"name": "c1-n1", "current": True, "active": 73909, "peer": "H0UwUkZd"},
            ],
        },
    ),
    "stream_leader_elected@account": (
        "$JS.EVENT.ADVISORY.STREAM.LEADER_ELECTED.ORDERS",
        "APP",
        {
            "type": ("io.nats.jetstream.advisory.v1.stream_leader_elected"),
            "id": "2BlRs8pjOYoNxmPUkO5Nhw",
            "timestamp": "2026-12-03T20:50:35.666725501Z",
            "stream": "ORDERS",
            "leader": "c1-n3",
            "replicas": [
                {
                    "name": "c1-n2",
                    "current": False,
                    "active": 0,
                    "lag": 1,
                    "peer": "ooo7kGPy",
                },
                {
                    "name": "c1-n3",
                    "current": True,
                    "active": 4314874,
                    "peer": "28f6SsNs",
                },
                {"name": "c1-n1", "current": True, "active": 73909, "peer": "H0UwUkZd"},
            ],
        },
    ),
    "stream_quorum_lost": (
        "$JS.EVENT.ADVISORY.STREAM.QUORUM_LOST.ORDERS",
        "system",
        {
            "type": "io.nats.jetstream.advisory.v1.stream_quorum_lost",
            "id": "A2DfCSS2295OPtK7ta6H0k",
            "timestamp": "2026-12-03T20:50:55.81929953Z",
            "account": ("AB6ZX45NHPLQQH3C5OJVN6BUV2UMH5X6VOOCMC2YFDMI2U62L3CLU7AS"),
            "stream": "ORDERS",
            "replicas": [
                {
                    "name": "c1-n2",
                    "current": False,
                    "offline": True,
                    "active": 13014185836,
                    "peer": "ooo7kGPy",
                },
                {
                    "name": "c1-n3",
                    "current": False,
                    "offline": True,
                    "active": 13014088992,
                    "peer": "28f6SsNs",
                },
                {
                    "name": "c1-n1",
                    "current": True,
                    "active": 20026147873,
                    "peer": "H0UwUkZd",
                },
            ],
        },
    ),
    "stream_quorum_lost@account": (
        "$JS.EVENT.ADVISORY.STREAM.QUORUM_LOST.ORDERS",
        "APP",
        {
            "type": "io.nats.jetstream.advisory.v1.stream_quorum_lost",
            "id": "A2DfCSS2295OPtK7ta6H0k",
            "timestamp": "2026-12-03T20:50:55.81929953Z",
            "stream": "ORDERS",
            "replicas": [
                {
                    "name": "c1-n2",
                    "current": False,
                    "offline": True,
                    "active": 13014185836,
                    "peer": "ooo7kGPy",
                },
                {
                    "name": "c1-n3",
                    "current": False,
                    "offline": True,
                    "active": 13014088992,
                    "peer": "28f6SsNs",
                },
                {
                    "name": "c1-n1",
                    "current": True,
                    "active": 20026147873,
                    "peer": "H0UwUkZd",
                },
            ],
        },
    ),
    "stream_updated@account": (
        "$JS.EVENT.ADVISORY.STREAM.UPDATED.ORDERS",
        "APP",
        {
            "type": "io.nats.jetstream.advisory.v1.stream_action",
            "id": "A2DfCSS2295OPtK7ta6GLy",
            "timestamp": "2026-12-03T20:50:41.411509084Z",
            "stream": "ORDERS",
            "action": "modify",
        },
    ),
}


def encode(payload: dict[str, Any]) -> bytes:
    """Compact JSON in the server's field order (as nats-server writes it)."""
    return json.dumps(payload, separators=(",", ":")).encode()


def sample(name: str) -> tuple[str, bytes, str]:
    """(subject, payload bytes, source) of one recorded event."""
    subject, source, payload = SAMPLES[name]
    return subject, encode(payload), source


def _template(name: str, fields: dict[str, Any]) -> tuple[str, str, str]:
    """A ``%``-format template of a sample, with ``fields`` as placeholders."""
    subject, source, doc = SAMPLES[name]
    doc = json.loads(json.dumps(doc))
    marks: dict[str, str] = {}
    for path, placeholder in fields.items():
        node = doc
        *parents, leaf = path.split(".")
        for key in parents:
            node = node[key]
        mark = f"@@{len(marks)}@@"
        marks[mark] = placeholder
        node[leaf] = mark
    text = json.dumps(doc, separators=(",", ":")).replace("%", "%%")
    for mark, placeholder in marks.items():
        text = text.replace(f'"{mark}"', placeholder)
    return subject, text, source


_STORM_FIELDS = {
    "id": '"%(id)s"',
    "server.name": '"%(server)s"',
    "server.id": '"%(server_id)s"',
    "server.seq": "%(seq)d",
    "client.id": "%(cid)d",
    "client.name": '"%(client)s"',
}


def storm(
    count: int,
    *,
    servers: int = 3,
    account: str = "",
    start_seq: int = 1,
    skip_every: int = 0,
) -> list[tuple[str, bytes, str]]:
    """``count`` synthetic connect/disconnect events in the server's exact layout.

    Servers are named ``sim-1``..``sim-N``; each has its own growing ``seq``. With
    ``skip_every`` = k, every k-th seq of each server is left out (a known gap).
    """
    templates = []
    for name in ("connect", "disconnect"):
        subject, body, source = _template(name, _STORM_FIELDS)
        if account:
            tokens = subject.split(".")
            tokens[2] = account
            subject = ".".join(tokens)
        templates.append((subject, body, source))
    seqs = [start_seq] * servers
    out: list[tuple[str, bytes, str]] = []
    i = 0
    while len(out) < count:
        k = i % servers
        seq = seqs[k]
        seqs[k] += 1
        i += 1
        if skip_every and seq % skip_every == 0:
            continue
        subject, body, source = templates[len(out) % 2]
        values = {
            "id": f"storm{len(out):017d}",
            "server": f"sim-{k + 1}",
            "server_id": f"NSIM{k + 1:052d}",
            "seq": seq,
            "cid": len(out),
            "client": f"client-{len(out) % 1000}",
        }
        out.append((subject, (body % values).encode(), source))
    return out


class StormMaker:
    """Makes synthetic connect/disconnect events on demand, seqs growing forever."""

    def __init__(self, servers: int = 3, account: str = "STORM") -> None:
        self.servers = servers
        self.templates = []
        for name in ("connect", "disconnect"):
            subject, body, source = _template(name, _STORM_FIELDS)
            tokens = subject.split(".")
            tokens[2] = account
            self.templates.append((".".join(tokens), body, source))
        self.seqs = [0] * servers
        self.made = 0

    def make(self, count: int) -> list[tuple[str, bytes, str]]:
        out = []
        for _ in range(count):
            n = self.made
            k = n % self.servers
            self.seqs[k] += 1
            subject, body, source = self.templates[n % 2]
            values = {
                "id": f"storm{n:017d}",
                "server": f"sim-{k + 1}",
                "server_id": f"NSIM{k + 1:052d}",
                "seq": self.seqs[k],
                "cid": n,
                "client": f"client-{n % 1000}",
            }
            out.append((subject, (body % values).encode(), source))
            self.made += 1
        return out


async def paced(
    send: Callable[[list[tuple[str, bytes, str]]], Awaitable[None] | None],
    rate: float,
    seconds: float,
    maker: StormMaker | None = None,
    tick: float = 0.01,
) -> int:
    """Send synthetic events at ``rate`` per second for ``seconds`` (in ticks).

    ``send`` receives each tick's batch; it may be a coroutine function. A rate of 0
    or infinity sends as fast as ``send`` allows. A late tick sends what is due, at
    most a tenth of a second's worth. Returns how many events were sent.
    """
    maker = maker or StormMaker()
    unlimited = rate <= 0 or math.isinf(rate)
    # never build more than a fraction of a second at once, however late we are
    most = 1_000 if unlimited else max(1, int(rate * 0.1))
    start = time.monotonic()
    sent = 0
    while True:
        elapsed = time.monotonic() - start
        if elapsed >= seconds:
            break
        due = most if unlimited else min(int(rate * elapsed) - sent, most)
        if due > 0:
            result = send(maker.make(due))
            if asyncio.iscoroutine(result):
                await result
            sent += due
        await asyncio.sleep(0 if unlimited else tick)
    return sent


async def push_storm(
    feed: Any, rate: float, seconds: float, maker: StormMaker | None = None
) -> int:
    """Push a synthetic storm into an :class:`~natsops.events.EventFeed` in-process.

    For dashboards under load without a server: the events take the same path as
    received ones (queue, batched parse, store, batched listeners).
    """

    def send(batch: list[tuple[str, bytes, str]]) -> None:
        for subject, payload, source in batch:
            feed.push(subject, payload, source)

    return await paced(send, rate, seconds, maker)


async def publish_storm(
    nc: Any, rate: float, seconds: float, maker: StormMaker | None = None
) -> int:
    """Publish a synthetic storm through a real server with a nats-py client of the
    system account (subjects ``$SYS.ACCOUNT.<account>.CONNECT|DISCONNECT``)."""

    async def send(batch: list[tuple[str, bytes, str]]) -> None:
        for subject, payload, _source in batch:
            await nc.publish(subject, payload)

    sent = await paced(send, rate, seconds, maker)
    await nc.flush()
    return sent
