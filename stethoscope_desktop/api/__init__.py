"""The local API for web apps: Stethoscope-compatible GraphQL on loopback, safe from foreign pages.

`security` holds the rules (pure functions), `schema` the GraphQL schema and resolvers, `service`
the evaluation of a page's policy against fresh reports, `server` the HTTP server, `awareness`
the once-per-session notice rule and `network` the device's addresses. `listen` binds
the loopback sockets. Nothing here imports Qt. The scan worker (`stethoscope_desktop.worker`)
builds an `ApiService` over a `ReportSource` and serves the sockets the tray bound with an
`ApiServer`; the package itself imports nothing, so the tray can bind without loading GraphQL.
"""
