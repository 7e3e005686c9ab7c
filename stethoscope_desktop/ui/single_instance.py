"""One app per user and display: a second start asks the running one to show its window.

On Linux and macOS the running app listens on a Unix socket in a folder only its user can enter
(`$XDG_RUNTIME_DIR`, else `<temp>/stethoscope-<uid>`, created with mode 0700 and refused when
another user owns it or others may write to it); a connection there means "show your window".

Which instance is alive is decided by a lock, not by how a connection goes: the running app
holds an exclusive `flock` on `<name>.lock` beside the socket for as long as it runs (the system
drops it when the process ends, however it ends). A later start that cannot take the lock knows
an instance is alive, even a busy one whose event loop does not answer and whose connection
queue is full, or one that closed the connection before the request was written (EPIPE): it
only asks that one to show and never unlinks its socket. Only the holder of the lock removes a
socket file a crashed run left behind. An instance of an older version, which listens without
the lock, counts as alive while its socket accepts connections.
On Windows it is a `QLocalServer` named pipe (QtNetwork is imported only there: on the other
systems the socket module the app loads anyway does the job, and the idle tray stays smaller).
"""

from __future__ import annotations

import errno
import logging
import os
import socket
import stat
import sys
import tempfile
import zlib
from pathlib import Path
from typing import IO

from PySide6.QtCore import QObject, QSocketNotifier, Signal

log = logging.getLogger(__name__)
CONNECT_TIMEOUT_S = 0.3
SHOW = b"show\n"
# What `connect` says when nobody listens at the path (a file a crashed run left, or none).
NOBODY_LISTENS = (errno.ECONNREFUSED, errno.ENOENT, errno.ENOTSOCK)
# AF_UNIX paths are short (104 bytes on macOS); longer names are shortened with a hash.
MAX_NAME = 40


class InstanceServer(QObject):
    """Listens for a second start of the app; `show_requested` fires when one asks."""

    show_requested = Signal()
    # True after `listen` found another instance alive: this start must not run.
    held_elsewhere = False

    def listen(self) -> bool:
        """Start listening; False (logged) when it cannot.

        Then the app runs without it, unless `held_elsewhere` says another instance is alive.
        """
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


def lock_path(socket_file: Path) -> Path:
    """Return the lock file that says the instance at `socket_file` is alive."""
    return socket_file.with_name(socket_file.name.removesuffix(".sock") + ".lock")


def _take_lock(path: Path) -> IO[bytes] | None:
    """Return the open lock file, locked by us; None if another process holds it.

    Raise OSError when the file cannot be opened or locked for another reason.
    """
    import fcntl  # Linux and macOS only

    handle = open(path, "ab")  # noqa: SIM115 - held open for the instance's life
    try:
        os.chmod(path, 0o600)
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        return None
    except OSError:
        handle.close()
        raise
    return handle


def _lock_is_held(path: Path) -> bool:
    """Return True if a live instance holds the lock at `path` (the file is left as it is)."""
    try:
        handle = _take_lock(path)
    except OSError as error:
        log.info("single instance: cannot check %s: %s", path, error.strerror)
        return False
    if handle is None:
        return True
    handle.close()  # closing the file drops our lock at once
    return False


def _send_show(path: Path) -> bool | None:
    """Ask whoever listens at `path` to show its window.

    Return True when a connection was made (what happens to the request after that does not
    change that someone is there), False when nobody listens there, None when the socket did
    not answer in time (a busy instance whose connection queue is full).
    """
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as client:
            client.settimeout(CONNECT_TIMEOUT_S)
            try:
                client.connect(str(path))
            except OSError as error:
                return False if error.errno in NOBODY_LISTENS else None
            try:
                client.sendall(SHOW)
            except OSError as error:  # EPIPE: it took the connection as the request already
                log.info("single instance: the running instance closed early: %s", error.strerror)
    except OSError as error:
        log.info("single instance: cannot ask the running instance: %s", error.strerror)
        return None
    return True


def ask_running_instance_to_show(name: str) -> bool:
    """Return True if another instance is alive (it was asked to show its window).

    Alive: it holds the instance lock (however busy it is), or its socket accepts connections.
    """
    if sys.platform == "win32":
        return _ask_over_local_socket(name)
    path = socket_path(name)
    if path is None:
        return False
    locked = _lock_is_held(lock_path(path))
    sent = _send_show(path)
    if locked and not sent:
        log.info("single instance: the running instance is busy; it shows when it can")
    return locked or sent is True


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
        self._lock: IO[bytes] | None = None
        self.path: Path | None = None

    def listen(self) -> bool:
        """Take the instance lock and listen, replacing a socket a crashed run left behind.

        False with `held_elsewhere` when another instance is alive: its socket is left alone.
        """
        path = socket_path(self._name)
        if path is None:
            return False
        try:
            lock = _take_lock(lock_path(path))
        except OSError as error:
            log.warning("single instance: cannot lock %s: %s", lock_path(path), error.strerror)
            return False
        if lock is None or _send_show(path) is not False:
            # Locked by a live instance, or a socket that answers (an older version's) or is
            # too busy to: either way it is not ours to replace.
            if lock is not None:
                lock.close()
            self.held_elsewhere = True
            log.info("single instance: another instance is running (%s)", path)
            return False
        server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            path.unlink(missing_ok=True)  # ours to replace: we hold the lock, nobody listens
            server.bind(str(path))
            os.chmod(path, 0o600)
            server.listen(4)
            server.setblocking(False)
        except OSError as error:
            server.close()
            lock.close()
            log.warning("single instance: cannot listen on %s: %s", path, error.strerror)
            return False
        self._socket, self.path, self._lock = server, path, lock
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
        if self._lock is not None:
            # Released only after the socket is gone, so no later start finds the lock free
            # while the socket still answers. The file stays: unlinking a lock file races.
            self._lock.close()
            self._lock = None

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
