"""Stethoscope Desktop: a security checkup of your own computer, in the system tray."""

__version__ = "0.1.0"
