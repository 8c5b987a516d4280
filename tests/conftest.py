"""Shared fixtures: real nats-server deployments started by natsops.harness."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from natsops import harness
from natsops.harness import Deployment


@pytest.fixture(scope="session")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    """A 3-node JetStream cluster (c1-n1..c1-n3) shared by the whole session.

    Tests must leave it as they found it: all servers running.
    """
    dep = Deployment.start(tmp_path_factory.mktemp("cluster"), [("c1", 3)])
    yield dep
    dep.close()


@pytest.fixture(scope="session")
def supercluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    """Two 3-node clusters (c1, c2) joined by gateways, shared by the session."""
    dep = Deployment.start(
        tmp_path_factory.mktemp("supercluster"), [("c1", 3), ("c2", 3)]
    )
    yield dep
    dep.close()


@pytest.fixture
def fresh_cluster(tmp_path: Path) -> Iterator[Deployment]:
    """A 3-node cluster of this test's own, free to kill and restart."""
    dep = Deployment.start(tmp_path / "fresh", [("c1", 3)])
    yield dep
    dep.close()


@pytest.fixture(autouse=True, scope="session")
def _no_server_left_behind() -> Iterator[None]:
    """After the session, no nats-server started by the harness may still run."""
    yield
    leftover = [p for p in harness._live if p.poll() is None]
    harness._kill_all_live()
    assert not leftover, f"{len(leftover)} nats-server processes were left running"


@pytest.fixture(autouse=True, scope="module")
def _collection_left_on() -> Iterator[None]:
    """The dashboard holds the garbage collector during refreshes; after every
    module's apps have exited it must be on again."""
    import gc

    yield
    assert gc.isenabled(), "the garbage collector was left disabled"
