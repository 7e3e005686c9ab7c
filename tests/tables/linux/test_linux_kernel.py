"""kernel_info and platform_info against fake roots: the kernel's release and the firmware."""

from __future__ import annotations

from pathlib import Path

from stethoscope_desktop.tables.linux.kernel import KernelInfo, PlatformInfo, parse_cmdline
from tests.fakes import FakeSystem, result
from tests.tables.linux.helpers import make_root, rows

DEBIAN_CMDLINE = "BOOT_IMAGE=/vmlinuz-6.1.0-28-amd64 root=/dev/mapper/vg-root ro quiet splash\n"
THINKPAD_DMI = {
    "/sys/class/dmi/id/bios_vendor": "LENOVO\n",
    "/sys/class/dmi/id/bios_version": "N32ET91W (1.67 )\n",
    "/sys/class/dmi/id/bios_date": "04/16/2024\n",
    "/sys/class/dmi/id/bios_release": "1.67\n",
}


def test_kernel_info_reads_the_release_and_the_boot_command_line(tmp_path: Path) -> None:
    root = make_root(
        tmp_path,
        {"/proc/sys/kernel/osrelease": "6.1.0-28-amd64\n", "/proc/cmdline": DEBIAN_CMDLINE},
    )
    system = FakeSystem(root)
    assert rows(KernelInfo(system)) == [
        {
            "version": "6.1.0-28-amd64",
            "arguments": "ro quiet splash",
            "path": "/vmlinuz-6.1.0-28-amd64",
            "device": "/dev/mapper/vg-root",
        }
    ]
    assert system.calls == []  # no uname: procfs answered


def test_kernel_info_asks_uname_when_procfs_has_no_release(tmp_path: Path) -> None:
    system = FakeSystem(
        make_root(tmp_path, {"/proc/cmdline": "console=ttyS0 rw\n"}),
        commands=dict([result(["uname", "-r"], "6.8.0-51-generic\n")]),
    )
    assert rows(KernelInfo(system)) == [
        {
            "version": "6.8.0-51-generic",
            "arguments": "console=ttyS0 rw",
            "path": None,
            "device": None,
        }
    ]


def test_kernel_info_without_procfs_or_uname_has_no_row(tmp_path: Path) -> None:
    assert rows(KernelInfo(FakeSystem(tmp_path))) == []


def test_parse_cmdline_keeps_values_with_equals_signs() -> None:
    assert parse_cmdline("root=UUID=0b7c-11 BOOT_IMAGE=(hd0,gpt2)/vmlinuz rd.luks.uuid=ab") == (
        "(hd0,gpt2)/vmlinuz",
        "UUID=0b7c-11",
        "rd.luks.uuid=ab",
    )


def test_platform_info_reads_the_firmware_from_sysfs_dmi(tmp_path: Path) -> None:
    root = make_root(tmp_path, {**THINKPAD_DMI, "/sys/firmware/efi/fw_platform_size": "64\n"})
    assert rows(PlatformInfo(FakeSystem(root))) == [
        {
            "vendor": "LENOVO",
            "version": "N32ET91W (1.67 )",
            "date": "04/16/2024",
            "revision": "1.67",
            "extra": None,
            "firmware_type": "uefi",
            "address": None,
            "size": None,
            "volume_size": None,
        }
    ]


def test_platform_info_on_a_legacy_bios_machine(tmp_path: Path) -> None:
    files = {
        "/sys/class/dmi/id/bios_vendor": "SeaBIOS\n",
        "/sys/class/dmi/id/bios_version": "1.16.2-debian-1.16.2-1\n",
    }
    (row,) = rows(PlatformInfo(FakeSystem(make_root(tmp_path, files))))
    assert (row["vendor"], row["version"], row["date"]) == (
        "SeaBIOS",
        "1.16.2-debian-1.16.2-1",
        None,
    )
    assert row["firmware_type"] == "bios"


def test_platform_info_without_dmi_has_no_row(tmp_path: Path) -> None:
    system = FakeSystem(tmp_path, denied={"/sys/class/dmi/id/bios_version"})
    assert rows(PlatformInfo(system)) == []
