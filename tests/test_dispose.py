"""The disposer frees large structures a slice at a time and never mutates them."""

from __future__ import annotations

import gc
import weakref
from dataclasses import dataclass, field
from typing import Any

from natsops.dispose import Disposer, children


class Leaf:
    """A weakly referenceable object deep inside a structure."""


@dataclass
class Node:
    items: dict[str, Any] = field(default_factory=dict)
    rows: list[Any] = field(default_factory=list)


def _tree(width: int) -> tuple[Node, list[weakref.ref[Leaf]]]:
    refs: list[weakref.ref[Leaf]] = []
    root = Node()
    for i in range(width):
        leaves = [Leaf() for _ in range(20)]
        refs += [weakref.ref(leaf) for leaf in leaves]
        root.items[f"k{i}"] = {"leaves": leaves, "n": i, "name": f"n{i}"}
        root.rows.append((i, leaves[0]))
    return root, refs


async def test_a_large_structure_is_freed_over_several_slices() -> None:
    disposer = Disposer(slice_seconds=0.0005)
    root, refs = _tree(2_000)
    disposer.drop(root)
    del root
    await disposer.wait()
    gc.collect()
    assert disposer.pending == 0
    assert disposer.slices > 1, "everything went in one slice"
    assert disposer.released == 3  # root, its dict and its list; entries whole
    assert all(r() is None for r in refs)


async def test_what_is_still_shared_is_left_intact() -> None:
    disposer = Disposer()
    root, refs = _tree(50)
    kept = root.items["k7"]
    disposer.drop(root)
    del root
    await disposer.wait()
    gc.collect()
    assert kept["n"] == 7 and len(kept["leaves"]) == 20
    alive = [r for r in refs if r() is not None]
    assert len(alive) == 20  # exactly the shared entry's leaves
    await disposer.close()


def test_children_split_containers_and_objects_but_not_small_or_leaves() -> None:
    assert children("text") is None and children(42) is None
    assert children({"a": 1}) is None  # small: dropped whole
    assert children(list(range(10))) == list(range(10))
    node = Node(items={"x": 1}, rows=[2])
    assert children(node) == [{"x": 1}, [2]]


def test_without_a_loop_drop_just_lets_go() -> None:
    disposer = Disposer()
    leaf = Leaf()
    ref = weakref.ref(leaf)
    disposer.drop([leaf] * 10)
    del leaf
    gc.collect()
    assert ref() is None and disposer.pending == 0
