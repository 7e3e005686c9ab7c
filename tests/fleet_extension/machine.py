"""A fake machine for the extension's tests: a root folder with its passwd, utmp and homes.

Run as root (as here and in CI's containers), each user gets a uid of their own and their files
are chowned to it, so the extension's ownership checks are the real ones; run as anyone else,
every user has the test's own uid (the extension then serves that uid's reports only, which is
all of them).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from stethoscope_desktop.core.report_store import report_path_in_home
from stethoscope_desktop.fleet_extension.users import UTMP_RECORD, UTMP_USER_PROCESS

AS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0


@dataclass(frozen=True)
class FakeUser:
    """A user of the fake machine."""

    name: str
    uid: int
    home: Path  # the home folder's real path (under the root)
    home_in_root: str  # as the passwd file names it


class FakeMachine:
    """A root folder with users; write their reports, log them in."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.users: list[FakeUser] = []
        (root / "etc").mkdir(parents=True, exist_ok=True)
        (root / "run").mkdir(parents=True, exist_ok=True)
        self._write_passwd()

    def add_user(self, name: str) -> FakeUser:
        """Add a user with an empty home folder they own."""
        uid = 2000 + len(self.users) if AS_ROOT else getattr(os, "geteuid", lambda: 0)()
        home_in_root = f"/home/{name}"
        user = FakeUser(name, uid, self.root / "home" / name, home_in_root)
        user.home.mkdir(parents=True)
        self.own(user, user.home)
        self.users.append(user)
        self._write_passwd()
        return user

    def _write_passwd(self) -> None:
        lines = ["root:x:0:0:root:/root:/bin/sh"]
        lines += [f"{u.name}:x:{u.uid}:{u.uid}::{u.home_in_root}:/bin/sh" for u in self.users]
        (self.root / "etc" / "passwd").write_text("\n".join(lines) + "\n")

    def own(self, user: FakeUser, path: Path) -> None:
        """Make `path` (not following a link) the user's, where the test may."""
        if AS_ROOT:
            os.lchown(path, user.uid, user.uid)

    def report_path(self, user: FakeUser) -> Path:
        """Return the real path of the user's report file."""
        relative = report_path_in_home(user.home_in_root, "linux")
        return self.root / relative.relative_to("/")

    def state_folder(self, user: FakeUser) -> Path:
        """Make the user's state folder (each level theirs) and return it."""
        folder = self.report_path(user).parent
        path = user.home
        for part in folder.relative_to(user.home).parts:
            path = path / part
            path.mkdir(mode=0o700, exist_ok=True)
            self.own(user, path)
        return folder

    def put_report(self, user: FakeUser, data: bytes) -> Path:
        """Write `data` as the user's report file, owned by them."""
        target = self.state_folder(user) / "last-report.json"
        target.write_bytes(data)
        target.chmod(0o600)
        self.own(user, target)
        return target

    def log_in(self, *names: str) -> None:
        """Write utmp with a user process for each of `names` (and a boot record)."""
        records = [UTMP_RECORD.pack(2, 0, b"~", b"~~", b"reboot", b"", 0, 0, 0, b"", b"", b"")]
        for index, name in enumerate(names):
            records.append(
                UTMP_RECORD.pack(
                    UTMP_USER_PROCESS,
                    100 + index,
                    f"pts/{index}".encode(),
                    b"ts/0",
                    name.encode(),
                    b"10.0.0.9",
                    0,
                    0,
                    0,
                    b"",
                    b"",
                    b"",
                )
            )
        (self.root / "run" / "utmp").write_bytes(b"".join(records))
