"""Stethoscope Desktop: a security checkup of your own computer, in the system tray."""

__version__ = "0.1.0"
# The release of Netflix's Stethoscope whose policy format and local GraphQL API this app
# implements (its last, June 2022). Policies' `stethoscopeVersion` is judged against it, and the
# API's `device.stethoscopeVersion` answers it; `stethoscopeDesktopVersion` is this app's own.
STETHOSCOPE_RELEASE = "5.0.6"
