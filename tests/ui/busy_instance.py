"""A running instance whose event loop is busy, for tests/ui/test_single_instance_busy.py.

`python -m tests.ui.busy_instance NAME`: listens as the app's instance NAME, prints
"listening", then keeps its event loop blocked until a line arrives on stdin (as an app busy in
a long call would), then runs its loop: each show request prints "shown"; end of stdin quits.
"""

from __future__ import annotations

import sys

from PySide6.QtCore import QCoreApplication, QSocketNotifier

from stethoscope_desktop.ui.single_instance import UnixInstanceServer


def main(name: str) -> int:
    """Run the busy instance; return its exit code (1: it could not listen)."""
    application = QCoreApplication(sys.argv[:1])
    server = UnixInstanceServer(name)
    if not server.listen():
        print("not listening", flush=True)
        return 1
    print("listening", flush=True)
    sys.stdin.readline()  # busy: the event loop does not run until the test says so
    server.show_requested.connect(lambda: print("shown", flush=True))
    stdin = QSocketNotifier(sys.stdin.fileno(), QSocketNotifier.Type.Read)

    def on_stdin() -> None:
        if not sys.stdin.readline():
            stdin.setEnabled(False)
            application.quit()

    stdin.activated.connect(on_stdin)
    application.exec()
    server.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
