"""Headless subcommands; none of them import Textual."""
