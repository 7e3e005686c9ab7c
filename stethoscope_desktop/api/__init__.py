"""The local API for web apps: Stethoscope-compatible GraphQL on loopback, safe from foreign pages.

`security` holds the rules (pure functions), `schema` the GraphQL schema and resolvers, `service`
the evaluation of a page's policy against fresh reports, `server` the HTTP server, `awareness`
the once-per-session notice rule and `network` the device's addresses. Nothing here imports Qt;
the tray app builds an `ApiService` over a `ReportSource` and starts an `ApiServer` with an
`ApiObserver`.
"""

from __future__ import annotations

from stethoscope_desktop.api.server import (
    ApiObserver,
    ApiServer,
    ApiServerError,
    NullObserver,
    PortInUseError,
)
from stethoscope_desktop.api.service import (
    ApiService,
    Freshness,
    ReportSource,
    ScannerReportSource,
)

__all__ = [
    "ApiObserver",
    "ApiServer",
    "ApiServerError",
    "ApiService",
    "Freshness",
    "NullObserver",
    "PortInUseError",
    "ReportSource",
    "ScannerReportSource",
]
