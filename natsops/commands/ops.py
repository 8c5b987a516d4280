"""Subcommands (placeholder until implemented)."""

from __future__ import annotations

import argparse
from typing import Any


def register(sub: Any, parents: list[argparse.ArgumentParser]) -> None:
    """Add this module's subcommands to the parser."""
