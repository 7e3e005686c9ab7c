"""One app per user and display: a second start asks the running one to show its window.

On Linux and macOS the running app listens on a Unix socket in a folder only its user can enter
(`$XDG_RUNTIME_DIR`, else `<temp>/stethoscope-<uid>`, created with mode 0700 and refused when
another user owns it or others may write to it); a connection there means "show your window".
On Windows it is a `QLocalServer` named pipe (QtNetwork is imported only there: on the other
systems the socket module the app loads anyway does the job, and the idle tray stays smaller).
"""

from __future__ import annotations

import logging
import os
import socket
import stat
import sys
import tempfile
import zlib
from pathlib import Path

from PySide6.QtCore import QObject, QSocketNotifier, Signal

log = logging.getLogger(__name__)
CONNECT_TIMEOUT_S = 0.3
SHOW = b"show\n"
# AF_UNIX paths are short (104 bytes on macOS); longer names are shortened with a hash.
MAX_NAME = 40


class InstanceServer(QObject):
    """Listens for a second start of the app; `show_requested` fires when one asks."""

    show_requested = Signal()

    def listen(self) -> bool:
        """Start listening; False (logged) when it cannot, and the app runs without it."""
        raise NotImplementedError

    def close(self) -> None:
        """Stop listening."""
        raise NotImplementedError


def socket_folder() -> Path | None:
    """Return the private folder for the instance socket, creating it; None if none is safe."""
    runtime = os.environ.get("XDG_RUNTIME_DIR", "")
    folder = (
        Path(runtime) if runtime else Path(tempfile.gettempdir()) / f"stethoscope-{os.getuid()}"
    )
    try:
        folder.mkdir(mode=0o700, exist_ok=True)
        info = folder.lstat()
    except OSError as error:
        log.warning("single instance: cannot use %s: %s", folder, error.strerror)
        return None
    if (
        not stat.S_ISDIR(info.st_mode)
        or info.st_uid != os.getuid()
        or info.st_mode & (stat.S_IWGRP | stat.S_IWOTH)
    ):
        log.warning("single instance: %s is not a private folder of this user", folder)
        return None
    return folder


def socket_path(name: str) -> Path | None:
    """Return where the instance socket called `name` lives (None: nowhere safe)."""
    folder = socket_folder()
    if folder is None:
        return None
    if len(name) > MAX_NAME:
        # Not hashlib: it loads OpenSSL's libcrypto, megabytes the idle tray need not carry.
        name = f"{name[:24]}-{zlib.crc32(name.encode()):08x}"
    return folder / f"{name}.sock"


def ask_running_instance_to_show(name: str) -> bool:
    """Return True if another instance answered (and was asked to show its window)."""
    if sys.platform == "win32":
        return _ask_over_local_socket(name)
    path = socket_path(name)
    if path is None:
        return False
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as client:
            client.settimeout(CONNECT_TIMEOUT_S)
            client.connect(str(path))
            client.sendall(SHOW)
    except OSError:
        return False
    return True


def create_instance_server(name: str) -> InstanceServer:
    """Return the server for this system (not listening yet)."""
    if sys.platform == "win32":
        return _LocalServer(name)
    return UnixInstanceServer(name)


class UnixInstanceServer(InstanceServer):
    """The instance socket on Linux and macOS."""

    def __init__(self, name: str) -> None:
        super().__init__()
        self._name = name
        self._socket: socket.socket | None = None
        self._notifier: QSocketNotifier | None = None
        self.path: Path | None = None

    def listen(self) -> bool:
        """Listen on the socket, replacing a stale one a crashed run left behind."""
        path = socket_path(self._name)
        if path is None:
            return False
        server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            path.unlink(missing_ok=True)  # the caller asked first: nobody answered there
            server.bind(str(path))
            os.chmod(path, 0o600)
            server.listen(4)
            server.setblocking(False)
        except OSError as error:
            server.close()
            log.warning("single instance: cannot listen on %s: %s", path, error.strerror)
            return False
        self._socket, self.path = server, path
        self._notifier = QSocketNotifier(server.fileno(), QSocketNotifier.Type.Read, self)
        self._notifier.activated.connect(self._on_activated)
        return True

    def close(self) -> None:
        """Stop listening and remove the socket."""
        if self._notifier is not None:
            self._notifier.setEnabled(False)
            self._notifier.deleteLater()
            self._notifier = None
        if self._socket is not None:
            self._socket.close()
            self._socket = None
            if self.path is not None:
                self.path.unlink(missing_ok=True)

    def _on_activated(self, *_: object) -> None:
        assert self._socket is not None
        asked = False
        while True:
            try:
                connection, _address = self._socket.accept()
            except (BlockingIOError, InterruptedError):
                break
            except OSError as error:
                log.warning("single instance: %s", error.strerror)
                break
            connection.close()  # connecting is the request; what it wrote does not matter
            asked = True
        if asked:
            self.show_requested.emit()


def _ask_over_local_socket(name: str) -> bool:
    from PySide6.QtNetwork import QLocalSocket

    client = QLocalSocket()
    client.connectToServer(name)
    if not client.waitForConnected(int(CONNECT_TIMEOUT_S * 1000)):
        return False
    client.write(SHOW)
    client.waitForBytesWritten(int(CONNECT_TIMEOUT_S * 1000))
    client.disconnectFromServer()
    return True


class _LocalServer(InstanceServer):
    """The instance server on Windows: a named pipe through QLocalServer."""

    def __init__(self, name: str) -> None:
        super().__init__()
        from PySide6.QtNetwork import QLocalServer

        self._name = name
        self._server = QLocalServer(self)
        self._server.setSocketOptions(QLocalServer.SocketOption.UserAccessOption)
        self._server.newConnection.connect(self._on_new_connection)

    def listen(self) -> bool:
        """Listen on the pipe, replacing a stale one."""
        self._server.removeServer(self._name)
        if not self._server.listen(self._name):
            log.warning("single instance: %s", self._server.errorString())
            return False
        return True

    def close(self) -> None:
        """Stop listening."""
        self._server.close()

    def _on_new_connection(self) -> None:
        while (connection := self._server.nextPendingConnection()) is not None:
            connection.disconnected.connect(connection.deleteLater)
            connection.disconnectFromServer()
            self.show_requested.emit()
