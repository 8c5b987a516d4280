"""natsops: a terminal operations console for NATS clusters."""

__version__ = "0.1.0"
