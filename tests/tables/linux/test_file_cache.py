"""FileCache and FolderCache: parsed files kept between reads and invalidated when files change."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from stethoscope_desktop.tables.file_cache import (
    RACY_WINDOW_NS,
    FileCache,
    FilesFingerprint,
    FolderCache,
    StatKey,
)
from tests.tables.linux.helpers import WatchedSystem, far_future_clock, replace_keeping_mtime

PATH = "/etc/example.conf"


def lines(text: str) -> tuple[str, ...]:
    return tuple(text.splitlines())


def trusted_cache(system: WatchedSystem) -> FileCache[tuple[str, ...]]:
    return FileCache(system, lines, clock=far_future_clock)


def test_an_unchanged_file_is_parsed_once(tmp_path: Path) -> None:
    system = WatchedSystem(tmp_path)
    system.write(PATH, "a\nb\n")
    cache = trusted_cache(system)
    assert cache.read(PATH) == ("a", "b")
    assert cache.read(PATH) == ("a", "b")
    assert system.reads[PATH] == 1


def test_a_changed_file_is_parsed_again(tmp_path: Path) -> None:
    system = WatchedSystem(tmp_path)
    system.write(PATH, "a\n")
    cache = trusted_cache(system)
    assert cache.read(PATH) == ("a",)
    system.write(PATH, "a\nb\n")
    assert cache.read(PATH) == ("a", "b")


def test_a_same_sized_replacement_with_its_mtime_put_back_is_caught_by_ctime(
    tmp_path: Path,
) -> None:
    system = WatchedSystem(tmp_path)
    target = system.write(PATH, "old\n")
    cache = trusted_cache(system)
    before = StatKey.of(system.stat(PATH))
    assert cache.read(PATH) == ("old",)
    replace_keeping_mtime(target, "new\n")
    after = StatKey.of(system.stat(PATH))
    assert (after.size, after.mtime_ns, after.inode) == (before.size, before.mtime_ns, before.inode)
    assert cache.read(PATH) == ("new",)


def test_a_rename_over_the_file_is_caught_by_its_inode(tmp_path: Path) -> None:
    system = WatchedSystem(tmp_path)
    target = system.write(PATH, "old\n")
    cache = trusted_cache(system)
    assert cache.read(PATH) == ("old",)
    replacement = target.with_name("example.conf.new")
    replacement.write_text("new\n", encoding="utf-8")
    first = os.stat(target)
    os.utime(replacement, ns=(first.st_atime_ns, first.st_mtime_ns))
    os.replace(replacement, target)
    assert cache.read(PATH) == ("new",)


def test_a_racy_entry_with_an_identical_stat_is_checked_by_its_content(tmp_path: Path) -> None:
    system = WatchedSystem(tmp_path)
    system.write(PATH, "old\n")
    frozen = system.freeze(PATH)
    now = [StatKey.of(frozen).ctime_ns]  # read within the same tick as the last change
    parsed: list[str] = []

    def parse(text: str) -> tuple[str, ...]:
        parsed.append(text)
        return lines(text)

    cache = FileCache(system, parse, clock=lambda: now[0])
    assert cache.read(PATH) == ("old",)
    system.write(PATH, "new\n")  # same size; the stat answers exactly as before
    assert cache.read(PATH) == ("new",)
    assert cache.read(PATH) == ("new",)  # content unchanged: read and compared, not parsed
    assert parsed == ["old\n", "new\n"]
    assert system.reads[PATH] == 3


def test_a_racy_entry_is_trusted_once_old_enough(tmp_path: Path) -> None:
    system = WatchedSystem(tmp_path)
    system.write(PATH, "old\n")
    frozen = system.freeze(PATH)
    now = [StatKey.of(frozen).ctime_ns]
    cache = FileCache(system, lines, clock=lambda: now[0])
    assert cache.read(PATH) == ("old",)
    now[0] += RACY_WINDOW_NS
    assert cache.read(PATH) == ("old",)  # compared once more, now old enough to trust
    assert cache.read(PATH) == ("old",)
    assert system.reads[PATH] == 2


def test_a_removed_file_raises_as_reading_it_does_and_is_forgotten(tmp_path: Path) -> None:
    system = WatchedSystem(tmp_path)
    target = system.write(PATH, "a\n")
    cache = trusted_cache(system)
    assert cache.read(PATH) == ("a",)
    target.unlink()
    with pytest.raises(FileNotFoundError) as from_cache:
        cache.read(PATH)
    with pytest.raises(FileNotFoundError) as from_system:
        system.read_text(PATH)
    assert str(from_cache.value) == str(from_system.value)
    assert len(cache) == 0
    assert cache.read_optional(PATH) is None


def test_files_that_look_old_are_trusted_with_the_system_clock(tmp_path: Path) -> None:
    system = WatchedSystem(tmp_path, aged=True)
    system.write(PATH, "a\n")
    cache = FileCache(system, lines)
    assert cache.read(PATH) == cache.read(PATH) == ("a",)
    assert system.reads[PATH] == 1


def test_a_file_just_written_is_racy_with_the_system_clock(tmp_path: Path) -> None:
    system = WatchedSystem(tmp_path)
    system.write(PATH, "a\n")
    cache = FileCache(system, lines)
    assert cache.read(PATH) == cache.read(PATH) == ("a",)
    assert system.reads[PATH] == 2  # compared by content, not trusted on its stat


def test_a_file_that_appears_is_read(tmp_path: Path) -> None:
    system = WatchedSystem(tmp_path)
    cache = trusted_cache(system)
    assert cache.read_optional(PATH) is None
    system.write(PATH, "here\n")
    assert cache.read(PATH) == ("here",)


def test_an_unreadable_file_that_becomes_readable_is_read(tmp_path: Path) -> None:
    system = WatchedSystem(tmp_path, denied=[PATH])
    system.write(PATH, "secret\n")
    cache = trusted_cache(system)
    with pytest.raises(PermissionError):
        cache.read(PATH)
    assert len(cache) == 0
    system.denied.clear()
    assert cache.read(PATH) == ("secret",)


def test_a_folder_raises_as_reading_it_does(tmp_path: Path) -> None:
    system = WatchedSystem(tmp_path)
    system.write("/etc/example.conf/inside", "")
    cache = trusted_cache(system)
    with pytest.raises(IsADirectoryError):
        cache.read(PATH)
    assert len(cache) == 0


def test_a_file_too_big_is_cut_at_the_limit_as_reading_it_does(tmp_path: Path) -> None:
    system = WatchedSystem(tmp_path)
    system.write(PATH, "0123456789\n")
    cache = FileCache(system, lines, limit=4, clock=far_future_clock)
    assert cache.read(PATH) == lines(system.read_text(PATH, limit=4)) == ("0123",)


def test_procfs_files_are_never_cached(tmp_path: Path) -> None:
    system = WatchedSystem(tmp_path)
    system.write("/proc/meminfo", "MemTotal: 1 kB\n")
    cache = trusted_cache(system)
    cache.read("/proc/meminfo")
    cache.read("/proc/meminfo")
    assert system.reads["/proc/meminfo"] == 2
    assert len(cache) == 0


def test_memory_is_bounded_to_the_latest_paths(tmp_path: Path) -> None:
    system = WatchedSystem(tmp_path)
    cache = FileCache(system, lines, max_entries=2, clock=far_future_clock)
    for name in ("a", "b", "c"):
        system.write(f"/etc/{name}", name)
        cache.read(f"/etc/{name}")
    assert len(cache) == 2
    cache.read("/etc/a")  # the least recently used went first
    assert system.reads["/etc/a"] == 2
    cache.keep_only(["/etc/a"])
    assert len(cache) == 1


def test_threads_reading_at_once_all_get_the_file(tmp_path: Path) -> None:
    system = WatchedSystem(tmp_path)
    system.write(PATH, "a\nb\n")
    cache = trusted_cache(system)
    results: list[tuple[str, ...]] = []

    def read() -> None:
        for _ in range(50):
            results.append(cache.read(PATH))

    threads = [threading.Thread(target=read) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == [("a", "b")] * 200
    assert len(cache) == 1


FOLDER = "/etc/example.d"


def names(path: str, entries: list[str]) -> tuple[str, ...]:
    return tuple(entries)


def test_a_folder_gaining_a_file_is_listed_again(tmp_path: Path) -> None:
    system = WatchedSystem(tmp_path)
    system.write(f"{FOLDER}/10-first", "")
    folder = tmp_path / FOLDER.lstrip("/")
    os.utime(folder, ns=(0, 1_000_000_000))  # an old folder: its listing is trusted
    cache = FolderCache(system, names, clock=far_future_clock)
    assert cache.read(FOLDER) == ("10-first",)
    assert cache.read(FOLDER) == ("10-first",)
    system.write(f"{FOLDER}/20-second", "")
    assert cache.read(FOLDER) == ("10-first", "20-second")


def test_a_folder_losing_a_file_is_listed_again(tmp_path: Path) -> None:
    system = WatchedSystem(tmp_path)
    system.write(f"{FOLDER}/10-first", "")
    second = system.write(f"{FOLDER}/20-second", "")
    os.utime(tmp_path / FOLDER.lstrip("/"), ns=(0, 1_000_000_000))
    cache = FolderCache(system, names, clock=far_future_clock)
    assert cache.read(FOLDER) == ("10-first", "20-second")
    second.unlink()
    assert cache.read(FOLDER) == ("10-first",)


def test_a_racy_folder_is_listed_again_even_with_an_identical_stat(tmp_path: Path) -> None:
    system = WatchedSystem(tmp_path)
    system.write(f"{FOLDER}/10-first", "")
    frozen = system.freeze(FOLDER)
    cache = FolderCache(system, names, clock=lambda: StatKey.of(frozen).mtime_ns)
    assert cache.read(FOLDER) == ("10-first",)
    system.write(f"{FOLDER}/20-second", "")
    assert cache.read(FOLDER) == ("10-first", "20-second")


def test_a_missing_folder_raises_as_listing_it_does(tmp_path: Path) -> None:
    system = WatchedSystem(tmp_path)
    cache = FolderCache(system, names, clock=far_future_clock)
    with pytest.raises(FileNotFoundError):
        cache.read(FOLDER)
    system.write(f"{FOLDER}/10-first", "")
    assert cache.read(FOLDER) == ("10-first",)


def test_a_files_fingerprint_changes_with_its_files_and_is_not_trusted_when_racy(
    tmp_path: Path,
) -> None:
    system = WatchedSystem(tmp_path, aged=True)
    database = system.write("/var/lib/db/data", "one")
    fingerprint = FilesFingerprint(system, ["/var/lib/db/data", "/var/lib/db/log"])
    first, trusted = fingerprint.current()
    assert trusted and first[0] is not None and first[1] is None
    assert fingerprint.current() == (first, True)
    replace_keeping_mtime(database, "two")
    assert fingerprint.current()[0] != first
    system.write("/var/lib/db/log", "")
    assert fingerprint.current()[0][1] is not None
    fresh = FilesFingerprint(WatchedSystem(tmp_path), ["/var/lib/db/log"])
    assert fresh.current()[1] is False  # written just now: may change within the same tick
