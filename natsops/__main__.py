"""Run natsops with ``python -m natsops``."""

from natsops.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
