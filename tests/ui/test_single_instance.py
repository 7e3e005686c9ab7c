"""One app per user: the instance socket (`ui.single_instance`) on Linux and macOS.

Real AF_UNIX sockets in a private folder under tmp_path (`XDG_RUNTIME_DIR` points there): a
second start connects and the running one's `show_requested` fires; a folder others may write
to is refused rather than trusted.
"""

from __future__ import annotations

import os
import socket
import stat
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

from stethoscope_desktop.ui.single_instance import (
    MAX_NAME,
    UnixInstanceServer,
    ask_running_instance_to_show,
    socket_folder,
    socket_path,
)

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="Unix sockets; Windows uses a pipe")

NAME = "stethoscope-test"
# sun_path holds 108 bytes on Linux, 104 on macOS, the terminating NUL included.
SUN_PATH_MAX = 104 if sys.platform == "darwin" else 108


@pytest.fixture
def runtime_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private XDG_RUNTIME_DIR (short, so that socket paths stay within sun_path)."""
    folder = tmp_path / "run"
    folder.mkdir(mode=0o700)
    folder.chmod(0o700)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(folder))
    return folder


@pytest.fixture
def servers(qtbot: QtBot) -> Iterator[list[UnixInstanceServer]]:
    """Servers a test made; closed after it."""
    made: list[UnixInstanceServer] = []
    yield made
    for server in made:
        server.close()


def new_server(servers: list[UnixInstanceServer], name: str = NAME) -> UnixInstanceServer:
    server = UnixInstanceServer(name)
    servers.append(server)
    return server


def test_a_second_start_reaches_the_running_one_and_it_shows(
    qtbot: QtBot, runtime_dir: Path, servers: list[UnixInstanceServer]
) -> None:
    server = new_server(servers)
    assert server.listen()
    assert server.path == runtime_dir / f"{NAME}.sock"
    with qtbot.waitSignal(server.show_requested, timeout=5000):
        assert ask_running_instance_to_show(NAME)


def test_every_later_start_is_heard(
    qtbot: QtBot, runtime_dir: Path, servers: list[UnixInstanceServer]
) -> None:
    server = new_server(servers)
    assert server.listen()
    for _ in range(3):
        with qtbot.waitSignal(server.show_requested, timeout=5000):
            assert ask_running_instance_to_show(NAME)


def test_the_socket_is_private_to_the_user(
    runtime_dir: Path, servers: list[UnixInstanceServer]
) -> None:
    server = new_server(servers)
    assert server.listen()
    assert server.path is not None
    info = server.path.lstat()
    assert stat.S_ISSOCK(info.st_mode)
    assert stat.S_IMODE(info.st_mode) == 0o600
    assert info.st_uid == os.getuid()


def test_nobody_listening_means_no_running_instance(
    runtime_dir: Path, servers: list[UnixInstanceServer]
) -> None:
    assert not ask_running_instance_to_show(NAME)
    other = new_server(servers, "another-app")
    assert other.listen()
    assert not ask_running_instance_to_show(NAME)  # a different name is a different app


def test_a_stale_socket_left_behind_is_replaced(
    qtbot: QtBot, runtime_dir: Path, servers: list[UnixInstanceServer]
) -> None:
    stale = runtime_dir / f"{NAME}.sock"
    crashed = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    crashed.bind(str(stale))
    crashed.close()  # a crashed run: the file stays, nobody listens
    assert stale.exists()
    assert not ask_running_instance_to_show(NAME)
    server = new_server(servers)
    assert server.listen()
    with qtbot.waitSignal(server.show_requested, timeout=5000):
        assert ask_running_instance_to_show(NAME)


def test_a_plain_file_where_the_socket_goes_is_replaced(
    runtime_dir: Path, servers: list[UnixInstanceServer]
) -> None:
    (runtime_dir / f"{NAME}.sock").write_text("left over")
    server = new_server(servers)
    assert server.listen()
    assert stat.S_ISSOCK((runtime_dir / f"{NAME}.sock").lstat().st_mode)


def test_close_removes_the_socket_file_and_stops_answering(
    runtime_dir: Path, servers: list[UnixInstanceServer]
) -> None:
    server = new_server(servers)
    assert server.listen()
    path = server.path
    assert path is not None and path.exists()
    server.close()
    assert not path.exists()
    assert not ask_running_instance_to_show(NAME)
    server.close()  # twice is harmless


def test_a_server_can_listen_again_after_closing(
    qtbot: QtBot, runtime_dir: Path, servers: list[UnixInstanceServer]
) -> None:
    first = new_server(servers)
    assert first.listen()
    first.close()
    second = new_server(servers)
    assert second.listen()
    with qtbot.waitSignal(second.show_requested, timeout=5000):
        assert ask_running_instance_to_show(NAME)


@pytest.mark.allow_warnings
def test_a_folder_others_may_write_to_is_refused(
    runtime_dir: Path, servers: list[UnixInstanceServer]
) -> None:
    runtime_dir.chmod(0o777)
    assert socket_folder() is None
    assert socket_path(NAME) is None
    assert not new_server(servers).listen()
    assert not ask_running_instance_to_show(NAME)
    assert list(runtime_dir.iterdir()) == []


@pytest.mark.allow_warnings
def test_a_folder_the_group_may_write_to_is_refused(runtime_dir: Path) -> None:
    runtime_dir.chmod(0o770)
    assert socket_folder() is None


@pytest.mark.allow_warnings
@pytest.mark.skipif(
    not hasattr(os, "getuid") or os.getuid() != 0,
    reason="giving a folder to another user needs root",
)
def test_a_folder_another_user_owns_is_refused(
    runtime_dir: Path, servers: list[UnixInstanceServer]
) -> None:
    os.chown(runtime_dir, 65534, 65534)  # nobody
    assert socket_folder() is None
    assert not new_server(servers).listen()


def test_a_folder_others_may_only_enter_is_fine(runtime_dir: Path) -> None:
    runtime_dir.chmod(0o755)
    assert socket_folder() == runtime_dir


@pytest.mark.allow_warnings
def test_a_runtime_dir_that_is_not_a_directory_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, servers: list[UnixInstanceServer]
) -> None:
    not_a_folder = tmp_path / "run"
    not_a_folder.write_text("a file")
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(not_a_folder))
    assert socket_folder() is None
    assert not new_server(servers).listen()
    assert not ask_running_instance_to_show(NAME)
    assert not_a_folder.read_text() == "a file"


@pytest.mark.allow_warnings
def test_a_symlink_to_a_private_folder_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "elsewhere"
    target.mkdir(mode=0o700)
    link = tmp_path / "run"
    link.symlink_to(target)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(link))
    assert socket_folder() is None


def test_a_very_long_name_gives_a_short_distinct_path(
    qtbot: QtBot, runtime_dir: Path, servers: list[UnixInstanceServer]
) -> None:
    long_name = "stethoscope-" + "x" * 300
    other_long_name = "stethoscope-" + "x" * 299 + "y"
    path = socket_path(long_name)
    other = socket_path(other_long_name)
    assert path is not None and other is not None
    assert path.parent == runtime_dir
    assert len(path.name) <= MAX_NAME + len(".sock")
    assert len(os.fsencode(path)) < SUN_PATH_MAX
    assert path != other  # shortened by a hash, not just cut
    assert socket_path(long_name) == path  # the second start finds the same socket
    server = new_server(servers, long_name)
    assert server.listen()
    with qtbot.waitSignal(server.show_requested, timeout=5000):
        assert ask_running_instance_to_show(long_name)
    assert not ask_running_instance_to_show(other_long_name)


def test_a_name_of_max_length_is_kept(runtime_dir: Path) -> None:
    name = "n" * MAX_NAME
    assert socket_path(name) == runtime_dir / f"{name}.sock"


def test_without_xdg_runtime_dir_it_uses_a_private_folder_in_the_temp_dir(
    qtbot: QtBot,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    servers: list[UnixInstanceServer],
) -> None:
    monkeypatch.delenv("XDG_RUNTIME_DIR", raising=False)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    expected = tmp_path / f"stethoscope-{os.getuid()}"
    assert socket_folder() == expected
    assert stat.S_IMODE(expected.lstat().st_mode) == 0o700
    assert socket_path(NAME) == expected / f"{NAME}.sock"
    server = new_server(servers)
    assert server.listen()
    with qtbot.waitSignal(server.show_requested, timeout=5000):
        assert ask_running_instance_to_show(NAME)


def test_an_empty_xdg_runtime_dir_counts_as_none(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_RUNTIME_DIR", "")
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    assert socket_folder() == tmp_path / f"stethoscope-{os.getuid()}"


@pytest.mark.allow_warnings
def test_a_temp_folder_others_may_write_to_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("XDG_RUNTIME_DIR", raising=False)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    planted = tmp_path / f"stethoscope-{os.getuid()}"
    planted.mkdir()
    planted.chmod(0o777)  # made before the app by someone who wants its socket
    assert socket_folder() is None
