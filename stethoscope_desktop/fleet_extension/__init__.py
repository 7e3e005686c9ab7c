"""IT's view of every user's last report, as tables of IT's own osquery (issue 18).

`stethoscope-desktop osquery-extension --socket PATH` is started by IT's osqueryd (autoloaded, as
root) and serves two read-only tables through the same extension code our osquery engine uses
(`engines.osquery_extension`): `stethoscope_status` (one row per user with a report, and per
logged-in user without one) and `stethoscope_practices` (one row per user and practice). It reads
the reports the app writes after each scan (`core.report_store`), as a hostile user might have
left them: never following a link the user could have made, only a regular file that user owns,
bounded in size, and never quoting the file's content in an error.

- `users`: the local users and who is logged in, per platform, from a root folder (tests pass one).
- `reading`: finding and reading one user's report safely.
- `tables`: the two tables.
- `service`: the command: osquery's extension lifecycle (wait for the socket, register, serve,
  watch osqueryd, leave when it goes away).

Nothing here imports Qt.
"""
