"""The local API for web apps: Stethoscope-compatible GraphQL on loopback, safe from foreign pages.

`security` holds the rules (pure functions), `schema` the GraphQL schema and resolvers (with
`legacy`, Stethoscope 1.0's forms of a request, and `device_lists`, the device's applications,
extensions and hotfixes), `compat` how our schema covers Stethoscope's (`schema_gaps`),
`service` the evaluation of a page's policy against fresh reports, `server` the HTTP server,
`debug` what /raw and /debugger answer, `awareness` the once-per-session notice rule,
`attest` the signed device tokens (`attest`, `POST /attest`) and `network` the device's
addresses. `listen` binds
the loopback sockets. Nothing here imports Qt. The scan worker (`stethoscope_desktop.worker`)
builds an `ApiService` over a `ReportSource` and serves the sockets the tray bound with an
`ApiServer`; the package itself imports nothing, so the tray can bind without loading GraphQL.
"""
