"""stethoscope_firewall's verdicts that half-settings must not fool (issue 19, items 1 to 4).

nftables: what the input hook does (policies, final drops, jumps, includes), not the words drop or
reject anywhere in the file; firewalld: the default zone's target; ufw: ENABLED=yes with nothing
readable to confirm it is unknown; and every nftables verdict says it was judged from the file.
The ruleset fixtures are checked by the real nft in a private network namespace where it can run.
"""

from __future__ import annotations

import functools
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from stethoscope_desktop.core.status import Status
from stethoscope_desktop.tables.linux.firewall import Firewall
from stethoscope_desktop.tables.linux.nft_ruleset import (
    MAX_INCLUDE_DEPTH,
    MAX_TOKENS,
    MAX_TOTAL_BYTES,
    input_hook,
    iter_chains,
    read_ruleset,
)
from stethoscope_desktop.tables.system import CommandResult
from tests.fakes import FakeSystem, result
from tests.tables.linux.helpers import FIXTURES, fixture, make_root, one_row, parse_tree
from tests.test_linux_scan import debian_laptop, scan, status

NFT_FIXTURES = FIXTURES / "firewall" / "nft"
NFT_UNIT = "/lib/systemd/system/nftables.service"
FIREWALLD_UNIT = "/usr/lib/systemd/system/firewalld.service"
LIVE_NOTE = "the rules loaded now can't be read without root"

# What each ruleset does to new incoming connections: (IPv4 dropped, IPv6 dropped, can't tell).
EXPECTED = {
    "accept-all-before-drop.nft": (False, False, False),
    "add-commands.nft": (True, True, False),
    "arch-style.nft": (True, True, False),
    "conditional-jump.nft": (False, False, False),
    "defines-and-continuations.nft": (True, True, False),
    "deleted-table.nft": (False, False, False),
    "dormant-table.nft": (False, False, False),
    "goto-returns-to-policy.nft": (False, False, False),
    "include-dir.tree": (True, True, False),
    "include-missing-drop.tree": (False, False, False),
    "invalid-only-drop.nft": (False, False, False),
    "ip-and-ip6-tables.nft": (True, True, False),
    "ipv4-only-drop.nft": (True, False, False),
    "jump-to-user-chain.nft": (True, True, False),
    "output-only-reject.nft": (False, False, False),
    "policy-accept-final-drop.nft": (True, True, False),
    "policy-accept-final-reject.nft": (True, True, False),
    "queue-decides.nft": (False, False, True),
    "two-input-chains.nft": (True, True, False),
    "vmap-new-drop.nft": (True, True, False),
}


def nft_files(name: str) -> dict[str, str]:
    """The files of a ruleset fixture: a .tree of several files, or one /etc/nftables.conf."""
    text = (NFT_FIXTURES / name).read_text(encoding="utf-8")
    return parse_tree(text) if name.endswith(".tree") else {"/etc/nftables.conf": text}


def is_active(units: list[str], states: list[str]) -> tuple[tuple[str, ...], CommandResult]:
    code = 0 if all(state == "active" for state in states) else 3
    return result(
        ["systemctl", "is-active", *units], "".join(f"{s}\n" for s in states), returncode=code
    )


def nft_machine(
    tmp_path: Path, files: dict[str, str], state: str = "active", *, systemd: bool = True
) -> FakeSystem:
    """A machine with nftables.service (in `state`) and only these ruleset files."""
    extra = {"/run/systemd/system/.keep": ""} if systemd else {"/proc/1/comm": "runit\n"}
    root = make_root(tmp_path, {NFT_UNIT: "[Unit]\n", **extra, **files})
    return FakeSystem(root, commands=dict([is_active(["nftables.service"], [state])]))


def test_every_fixture_has_an_expected_verdict() -> None:
    assert sorted(EXPECTED) == sorted(p.name for p in NFT_FIXTURES.iterdir())


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_input_hook_verdict_of_each_ruleset(tmp_path: Path, name: str) -> None:
    root = make_root(tmp_path, nft_files(name))
    hook = input_hook(read_ruleset(FakeSystem(root), "/etc/nftables.conf"))
    assert (hook.ipv4, hook.ipv6, bool(hook.unknown)) == EXPECTED[name], hook.describe()


# -- item 1: the input hook, not the words ------------------------------------------------------


def test_input_chain_dropping_only_invalid_packets_is_off(tmp_path: Path) -> None:
    # The flip: input policy accept with `ct state invalid drop`, forward policy drop.
    row = one_row(Firewall(nft_machine(tmp_path, nft_files("invalid-only-drop.nft"))))
    assert row["enabled"] == 0
    assert row["detail"] == (
        "nftables: nftables.service is active but /etc/nftables.conf lets new incoming "
        "connections in (inet filter input: no rule decides every new connection, so policy "
        "accept does); judged from /etc/nftables.conf; " + LIVE_NOTE
    )


def test_a_ruleset_rejecting_only_outgoing_traffic_is_off(tmp_path: Path) -> None:
    row = one_row(Firewall(nft_machine(tmp_path, nft_files("output-only-reject.nft"))))
    assert row["enabled"] == 0
    assert "inet filter input: policy accept, no rules" in str(row["detail"])


@pytest.mark.parametrize(
    ("name", "because"),
    [
        ("invalid-only-drop.nft", None),
        ("policy-accept-final-drop.nft", "drops every new connection at `counter drop`"),
        ("policy-accept-final-reject.nft", "rejects every new connection at `reject with icmpx"),
        ("nftables.conf-filtering", "policy drop does"),
        ("jump-to-user-chain.nft", "jump inbound, which drops every new connection"),
        ("conditional-jump.nft", None),
        ("accept-all-before-drop.nft", None),
    ],
)
def test_the_verdict_follows_the_input_chain(
    tmp_path: Path, name: str, because: str | None
) -> None:
    files = (
        {"/etc/nftables.conf": fixture(f"firewall/{name}")}
        if name.startswith("nftables.conf")
        else nft_files(name)
    )
    row = one_row(Firewall(nft_machine(tmp_path, files)))
    assert row["enabled"] == (1 if because else 0), row["detail"]
    if because:
        assert because in str(row["detail"])


def test_a_conditional_jump_is_named_as_not_counted(tmp_path: Path) -> None:
    row = one_row(Firewall(nft_machine(tmp_path, nft_files("conditional-jump.nft"))))
    assert (
        'rules that decide for some connections only are not counted: `iifname "wlp2s0" jump '
        "wifi_in` (/etc/nftables.conf:13)"
    ) in str(row["detail"])


def test_an_ipv4_only_drop_leaves_ipv6_open(tmp_path: Path) -> None:
    files = {
        **nft_files("ipv4-only-drop.nft"),
        "/proc/sys/net/ipv6/conf/all/disable_ipv6": "0\n",
        "/proc/sys/net/ipv6/conf/default/disable_ipv6": "0\n",
    }
    row = one_row(Firewall(nft_machine(tmp_path, files)))
    assert row["enabled"] == 0
    assert (
        "/etc/nftables.conf drops or rejects new incoming IPv4 connections but lets IPv6 ones "
        "in, as no ip6 or inet input chain drops them"
    ) in str(row["detail"])


def test_an_ipv4_only_drop_counts_where_ipv6_is_switched_off(tmp_path: Path) -> None:
    files = {
        **nft_files("ipv4-only-drop.nft"),
        "/proc/sys/net/ipv6/conf/all/disable_ipv6": "1\n",
        "/proc/sys/net/ipv6/conf/default/disable_ipv6": "1\n",
    }
    row = one_row(Firewall(nft_machine(tmp_path, files)))
    assert row["enabled"] == 1
    assert "IPv6 is switched off (net.ipv6.conf.all.disable_ipv6 = 1)" in str(row["detail"])


def test_included_files_are_followed_and_named(tmp_path: Path) -> None:
    row = one_row(Firewall(nft_machine(tmp_path, nft_files("include-dir.tree"))))
    assert row["enabled"] == 1
    detail = str(row["detail"])
    assert "(/etc/nftables.d/input-99-drop.nft:1)" in detail
    assert detail.endswith(
        "judged from /etc/nftables.conf, /etc/nftables.d/input-10-established.nft, "
        "/etc/nftables.d/input-50-services.nft, /etc/nftables.d/input-99-drop.nft, "
        "/etc/nftables.d/zz-forward.nft; " + LIVE_NOTE
    )


def test_an_include_loop_is_bounded_and_unknown(tmp_path: Path) -> None:
    files = {"/etc/nftables.conf": 'include "/etc/nftables.conf"\n'}
    row = one_row(Firewall(nft_machine(tmp_path, files)))
    assert row["enabled"] is None
    assert f"includes nest deeper than {MAX_INCLUDE_DEPTH}" in str(row["detail"])


def test_a_huge_ruleset_is_not_read_past_the_bound(tmp_path: Path) -> None:
    filler = "# " + "x" * 1000 + "\n"
    files = {"/etc/nftables.conf": filler * (MAX_TOTAL_BYTES // len(filler) + 2)}
    row = one_row(Firewall(nft_machine(tmp_path, files)))
    assert row["enabled"] is None
    assert f"larger than {MAX_TOTAL_BYTES} bytes" in str(row["detail"])


def test_a_jump_loop_is_unknown(tmp_path: Path) -> None:
    files = {
        "/etc/nftables.conf": "table inet f {\n chain a {\n  jump b\n }\n chain b {\n  goto a\n }\n"
        " chain input {\n  type filter hook input priority 0; policy drop;\n  jump a\n }\n}\n"
    }
    row = one_row(Firewall(nft_machine(tmp_path, files)))
    assert row["enabled"] is None
    assert "jumps back into chain a, a loop" in str(row["detail"])


def test_chains_jumped_to_many_times_are_walked_once(tmp_path: Path) -> None:
    # 2^20 paths through 20 chains: each chain's outcome is remembered, so this is quick.
    chains = "".join(f" chain c{i} {{\n  jump c{i + 1}\n  jump c{i + 1}\n }}\n" for i in range(20))
    files = {
        "/etc/nftables.conf": "table inet f {\n" + chains + " chain c20 {\n  counter\n }\n"
        " chain input {\n  type filter hook input priority 0; policy drop;\n  jump c0\n }\n}\n"
    }
    row = one_row(Firewall(nft_machine(tmp_path, files)))
    assert row["enabled"] is None  # deeper than nft's 16 jumps: said, not guessed
    assert "jumps nest deeper than 16 chains" in str(row["detail"])


def test_variables_that_double_at_each_definition_are_bounded(tmp_path: Path) -> None:
    defines = "define x = { 1, 2 }\n" + "redefine x = { $x, $x }\n" * 40
    files = {
        "/etc/nftables.conf": defines
        + "table inet f {\n chain input {\n  ip saddr $x drop\n }\n}\n"
    }
    row = one_row(Firewall(nft_machine(tmp_path, files)))
    assert row["enabled"] is None
    assert f"variables expand past {MAX_TOKENS} words" in str(row["detail"])


def test_a_broken_ruleset_is_unknown_naming_file_and_line(tmp_path: Path) -> None:
    files = {"/etc/nftables.conf": "flush ruleset\ntable inet filter {\n  chain input {\n"}
    row = one_row(Firewall(nft_machine(tmp_path, files)))
    assert row["enabled"] is None
    assert "/etc/nftables.conf:3: a block is not closed" in str(row["detail"])


def test_a_queue_deciding_every_connection_is_unknown(tmp_path: Path) -> None:
    row = one_row(Firewall(nft_machine(tmp_path, nft_files("queue-decides.nft"))))
    assert row["enabled"] is None
    assert "hands every new connection to a program at `queue num 0 bypass`" in str(row["detail"])


def test_an_inactive_service_is_off(tmp_path: Path) -> None:
    machine = nft_machine(tmp_path, nft_files("arch-style.nft"), state="inactive")
    row = one_row(Firewall(machine))
    assert (row["enabled"], row["source"]) == (0, "nftables")
    assert str(row["detail"]).startswith("nftables: nftables.service is inactive")


def test_without_systemd_a_filtering_file_alone_is_unknown(tmp_path: Path) -> None:
    files = {
        **nft_files("arch-style.nft"),
        "/proc/modules": fixture("firewall/proc-modules-docker"),
    }
    row = one_row(Firewall(nft_machine(tmp_path, files, systemd=False)))
    assert row["enabled"] is None
    assert "systemd is not running (PID 1 is runit)" in str(row["detail"])
    assert "so whether the file was loaded cannot be told" in str(row["detail"])


# -- item 4: only the file can be read ----------------------------------------------------------


def test_a_file_that_lets_everything_in_is_off_and_says_only_the_file_was_read(
    tmp_path: Path,
) -> None:
    # A live `policy drop` added by hand is not in the file; the verdict is the file's, and says
    # so (the live rules need root, and are gone at the next restart of nftables.service).
    files = {"/etc/nftables.conf": fixture("firewall/nftables.conf-debian-default")}
    row = one_row(Firewall(nft_machine(tmp_path, files)))
    assert row == {
        "enabled": 0,
        "source": "nftables",
        "detail": "nftables: nftables.service is active but /etc/nftables.conf lets new "
        "incoming connections in (inet filter input: policy accept, no rules); judged from "
        "/etc/nftables.conf; " + LIVE_NOTE,
    }


# -- item 2: firewalld's default zone -----------------------------------------------------------

FIREWALLD = FIXTURES / "firewall" / "firewalld"


def firewalld_machine(
    tmp_path: Path,
    files: dict[str, str],
    *,
    denied: tuple[str, ...] = (),
    default_zone: CommandResult | None = None,
) -> FakeSystem:
    root = make_root(
        tmp_path,
        {
            "/run/systemd/system/.keep": "",
            FIREWALLD_UNIT: "[Unit]\n",
            "/usr/lib/firewalld/zones/public.xml": (FIREWALLD / "zone-public.xml").read_text(),
            "/usr/lib/firewalld/zones/trusted.xml": (FIREWALLD / "zone-trusted.xml").read_text(),
            "/usr/lib/firewalld/zones/drop.xml": (FIREWALLD / "zone-drop.xml").read_text(),
            "/usr/lib/firewalld/zones/block.xml": (FIREWALLD / "zone-block.xml").read_text(),
            **files,
        },
    )
    commands = dict([is_active(["firewalld.service"], ["active"])])
    if default_zone is not None:
        commands[default_zone.argv] = default_zone
    return FakeSystem(root, commands=commands, denied=denied)


def firewalld_file(name: str) -> str:
    return (FIREWALLD / name).read_text(encoding="utf-8")


@pytest.mark.parametrize(
    ("conf", "enabled", "says"),
    [
        (
            "firewalld.conf-trusted",
            0,
            "firewalld: the firewalld unit is active, but its default zone is trusted (DefaultZone "
            "in /etc/firewalld/firewalld.conf), which accepts every incoming connection (target "
            "ACCEPT in /usr/lib/firewalld/zones/trusted.xml)",
        ),
        (
            "firewalld.conf-public",
            1,
            "firewalld: the firewalld unit is active and its default zone is public (DefaultZone "
            "in /etc/firewalld/firewalld.conf), which rejects incoming connections it does not "
            "allow (target default in /usr/lib/firewalld/zones/public.xml)",
        ),
    ],
)
def test_firewalld_is_judged_by_its_default_zone(
    tmp_path: Path, conf: str, enabled: int, says: str
) -> None:
    files = {"/etc/firewalld/firewalld.conf": firewalld_file(conf)}
    row = one_row(Firewall(firewalld_machine(tmp_path, files)))
    assert row == {"enabled": enabled, "source": "firewalld", "detail": says}


def test_firewalld_conf_without_a_default_zone_means_public(tmp_path: Path) -> None:
    files = {"/etc/firewalld/firewalld.conf": firewalld_file("firewalld.conf-no-default-zone")}
    row = one_row(Firewall(firewalld_machine(tmp_path, files)))
    assert row["enabled"] == 1
    assert "default zone is public (/etc/firewalld/firewalld.conf names no DefaultZone)" in str(
        row["detail"]
    )


def test_a_zone_in_etc_overrides_the_shipped_one(tmp_path: Path) -> None:
    files = {
        "/etc/firewalld/firewalld.conf": firewalld_file("firewalld.conf-public"),
        "/etc/firewalld/zones/public.xml": firewalld_file("zone-public-accept.xml"),
    }
    row = one_row(Firewall(firewalld_machine(tmp_path, files)))
    assert row["enabled"] == 0
    assert "target ACCEPT in /etc/firewalld/zones/public.xml" in str(row["detail"])


@pytest.mark.parametrize(("zone", "verb"), [("drop", "drops"), ("block", "rejects")])
def test_drop_and_block_zones_are_on(tmp_path: Path, zone: str, verb: str) -> None:
    conf = firewalld_file("firewalld.conf-public").replace("public", zone)
    row = one_row(Firewall(firewalld_machine(tmp_path, {"/etc/firewalld/firewalld.conf": conf})))
    assert row["enabled"] == 1
    assert f"which {verb} incoming connections it does not allow" in str(row["detail"])


def test_unreadable_etc_firewalld_asks_firewall_cmd_for_the_zone(tmp_path: Path) -> None:
    # /etc/firewalld is mode 0750 in Debian's and Fedora's packages: a user reads neither
    # firewalld.conf nor /etc/firewalld/zones, but firewalld tells anyone its default zone.
    denied = ("/etc/firewalld/firewalld.conf", "/etc/firewalld/zones/trusted.xml")
    files = {"/etc/firewalld/firewalld.conf": firewalld_file("firewalld.conf-trusted")}
    machine = firewalld_machine(
        tmp_path,
        files,
        denied=denied,
        default_zone=CommandResult(("firewall-cmd", "--get-default-zone"), 0, "trusted\n", ""),
    )
    row = one_row(Firewall(machine))
    assert row["enabled"] == 0
    assert row["detail"] == (
        "firewalld: the firewalld unit is active, but its default zone is trusted "
        "(firewall-cmd --get-default-zone (/etc/firewalld/firewalld.conf: permission denied)), "
        "which accepts every incoming connection (target ACCEPT in "
        "/usr/lib/firewalld/zones/trusted.xml); whether /etc/firewalld/zones changes the zone "
        "can't be read without root (permission denied)"
    )


def test_firewalld_zone_unknown_when_neither_file_nor_firewall_cmd_answer(tmp_path: Path) -> None:
    machine = firewalld_machine(
        tmp_path,
        {"/etc/firewalld/firewalld.conf": "DefaultZone=public\n"},
        denied=("/etc/firewalld/firewalld.conf",),
        default_zone=CommandResult(
            ("firewall-cmd", "--get-default-zone"), 1, "", "Authorization failed.\n"
        ),
    )
    row = one_row(Firewall(machine))
    assert row["enabled"] is None
    assert str(row["detail"]).endswith(
        "but its default zone cannot be told: /etc/firewalld/firewalld.conf: permission denied, "
        "and firewall-cmd --get-default-zone failed: Authorization failed."
    )


def test_a_zone_file_with_entities_is_refused(tmp_path: Path) -> None:
    files = {
        "/etc/firewalld/firewalld.conf": firewalld_file("firewalld.conf-public"),
        "/etc/firewalld/zones/public.xml": '<?xml version="1.0"?>\n<!DOCTYPE zone [<!ENTITY a '
        '"b">]>\n<zone target="ACCEPT">&a;</zone>\n',
    }
    row = one_row(Firewall(firewalld_machine(tmp_path, files)))
    assert row["enabled"] is None
    assert "declares a DOCTYPE or entities" in str(row["detail"])


def test_a_zone_name_cannot_leave_the_zone_folders(tmp_path: Path) -> None:
    files = {"/etc/firewalld/firewalld.conf": "DefaultZone=../../../etc/passwd\n"}
    row = one_row(Firewall(firewalld_machine(tmp_path, files)))
    assert row["enabled"] is None
    assert "is not a zone name" in str(row["detail"])


def test_firewalld_without_systemd_is_judged_by_its_zone_too(tmp_path: Path) -> None:
    root = make_root(
        tmp_path,
        {
            "/etc/firewalld/firewalld.conf": firewalld_file("firewalld.conf-trusted"),
            "/usr/lib/firewalld/zones/trusted.xml": firewalld_file("zone-trusted.xml"),
        },
    )
    system = FakeSystem(root, commands=dict([result(["firewall-cmd", "--state"], "running\n")]))
    row = one_row(Firewall(system))
    assert row["enabled"] == 0
    assert str(row["detail"]).startswith(
        "firewalld: firewall-cmd --state says running, but its default zone is trusted"
    )


@pytest.mark.parametrize(("zone", "enabled"), [("trusted", 0), ("public", None)])
def test_firewalld_whose_state_cannot_be_told_is_off_all_the_same_when_its_zone_lets_all_in(
    tmp_path: Path, zone: str, enabled: int | None
) -> None:
    # No systemd to ask, and firewall-cmd cannot reach firewalld over D-Bus: whether it runs
    # is unknown, but a trusted default zone lets everything in whether it runs or not.
    root = make_root(
        tmp_path,
        {
            FIREWALLD_UNIT: "[Unit]\n",
            "/etc/firewalld/firewalld.conf": firewalld_file(f"firewalld.conf-{zone}"),
            "/usr/lib/firewalld/zones/trusted.xml": firewalld_file("zone-trusted.xml"),
            "/usr/lib/firewalld/zones/public.xml": firewalld_file("zone-public.xml"),
        },
    )
    no_dbus = result(
        ["firewall-cmd", "--state"],
        stderr="Error: Failed to connect to the system bus\n",
        returncode=1,
    )
    row = one_row(Firewall(FakeSystem(root, commands=dict([no_dbus]))))
    assert row["enabled"] == enabled
    detail = str(row["detail"])
    assert "firewall-cmd --state failed" in detail
    if zone == "trusted":
        assert "but its default zone is trusted" in detail
        assert "which accepts every incoming connection" in detail


# -- the whole scan: the issue's flips give the right verdict (item 3's ufw among them) ----------


def with_systemd(system: FakeSystem, units: list[str], states: list[str]) -> FakeSystem:
    system.write("/run/systemd/system/.keep")
    system.commands.update(dict([is_active(units, states)]))
    return system


@pytest.mark.parametrize(
    ("files", "units", "expected"),
    [
        ({NFT_UNIT: "", **nft_files("invalid-only-drop.nft")}, ["nftables.service"], Status.FAIL),
        ({NFT_UNIT: "", **nft_files("output-only-reject.nft")}, ["nftables.service"], Status.FAIL),
        ({NFT_UNIT: "", **nft_files("arch-style.nft")}, ["nftables.service"], Status.PASS),
        (
            {
                FIREWALLD_UNIT: "",
                "/etc/firewalld/firewalld.conf": "DefaultZone=trusted\n",
                "/usr/lib/firewalld/zones/trusted.xml": (
                    FIREWALLD / "zone-trusted.xml"
                ).read_text(),
            },
            ["firewalld.service"],
            Status.FAIL,
        ),
    ],
    ids=["nft-invalid-only", "nft-output-only", "nft-arch", "firewalld-trusted"],
)
def test_the_firewall_practice_on_a_whole_scan(
    tmp_path: Path, files: dict[str, str], units: list[str], expected: Status
) -> None:
    system = with_systemd(debian_laptop(tmp_path), units, ["active"])
    for path, content in files.items():
        system.write(path, content)
    assert status(scan(system), "firewall") is expected


def test_ufw_enabled_without_systemd_is_unknown_on_a_whole_scan(tmp_path: Path) -> None:
    system = debian_laptop(tmp_path)
    system.write("/etc/ufw/ufw.conf", fixture("firewall/ufw.conf-enabled"))
    system.write("/lib/systemd/system/ufw.service", "[Unit]\n")
    system.write("/proc/1/comm", "process_api\n")
    report = scan(system)
    assert status(report, "firewall") is Status.UNKNOWN


# -- the real nft judges the fixtures -------------------------------------------------------------


def _nft() -> str | None:
    return shutil.which("nft") or next(
        (p for p in ("/usr/sbin/nft", "/sbin/nft") if Path(p).exists()), None
    )


@functools.cache
def _private_nft_reason() -> str | None:
    """Return why nft cannot run in a private user and network namespace here, or None."""
    nft = _nft()
    if nft is None:
        return "nft is not installed (Debian: apt-get install nftables; `make test` does)"
    if shutil.which("unshare") is None:
        return "unshare (util-linux) is not installed"
    probe = subprocess.run(
        ["unshare", "--user", "--map-root-user", "--net", nft, "list", "ruleset"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    if probe.returncode != 0:
        return f"nft cannot run in a private user and network namespace here: {probe.stderr}"
    return None


_INCLUDE = re.compile(r'include "([^"]+)"')


# Loaded by the real nft only where the kernel has every expression a fixture uses: a `queue`
# rule needs nfnetlink_queue, which some kernels lack, so that fixture is left out here rather than
# skipped on one machine and run on another (its verdict has its own test above).
NEEDS_OPTIONAL_KERNEL_MODULES = {"queue-decides.nft"}


@pytest.mark.parametrize("name", sorted(set(EXPECTED) - NEEDS_OPTIONAL_KERNEL_MODULES))
def test_real_nft_reads_each_fixture_as_the_parser_does(tmp_path: Path, name: str) -> None:
    reason = _private_nft_reason()
    if reason is not None:
        if os.environ.get("CI") == "true" and sys.platform.startswith("linux"):
            pytest.fail(f"CI installs nftables (make test): {reason}")
        pytest.skip(reason)
    files = nft_files(name)
    root = make_root(tmp_path / "root", files)
    # The copy nft loads names its includes inside the fake root (relative ones against /etc,
    # nft's default include path), so nothing of this machine's /etc is read.
    copy = make_root(
        tmp_path / "copy",
        {
            path: _INCLUDE.sub(
                lambda m: 'include "{}"'.format(
                    f"{tmp_path}/copy{m.group(1) if m.group(1).startswith('/') else '/etc/' + m.group(1)}"
                ),
                text,
            )
            for path, text in files.items()
        },
    )
    loaded = subprocess.run(
        ["unshare", "--user", "--map-root-user", "--net", "sh", "-c",
         'nft -f "$1" && nft -j list ruleset && echo && nft list ruleset', "sh", f"{copy}/etc/nftables.conf"],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert loaded.returncode == 0, loaded.stderr
    listed_json, _, listed_text = loaded.stdout.partition("\n")
    real: dict[tuple[str, str, str], tuple[str, str, str, int]] = {}
    # nft 1.0.6 writes a table's flags wrongly in JSON ("filter"): dormancy from the text listing.
    dormant = {
        (family, name)
        for family, name, flags in re.findall(
            r"^table (\S+) (\S+) \{\n\tflags (.*)$", listed_text, re.M
        )
        if "dormant" in flags.split(",")
    }
    for item in json.loads(listed_json)["nftables"]:
        if "chain" in item:
            chain = item["chain"]
            key = (chain["family"], chain["table"], chain["name"])
            real[key] = (chain.get("type", ""), chain.get("hook", ""), chain.get("policy", ""), 0)
        if "rule" in item:
            rule = item["rule"]
            key = (rule["family"], rule["table"], rule["chain"])
            kind, hook, policy, count = real[key]
            real[key] = (kind, hook, policy, count + 1)
    ruleset = read_ruleset(FakeSystem(root), "/etc/nftables.conf")
    ours = {
        (c.family, c.table, c.name): (
            c.chain_type,
            c.hook,
            c.policy if c.hook else "",
            len(c.rules),
        )
        for c in iter_chains(ruleset)
    }
    assert ours == real
    assert {key for key, table in ruleset.tables.items() if table.dormant} == dormant


# -- a zone that lets in (nearly) every unprivileged port: Fedora Workstation's ----------------


def test_fedora_workstations_zone_lets_nearly_everything_in(tmp_path: Path) -> None:
    # FedoraWorkstation has no target (so "default", which rejects) but opens TCP and UDP
    # 1025-65535: any program listening on an unprivileged port can be reached.
    files = {
        "/etc/firewalld/firewalld.conf": "DefaultZone=FedoraWorkstation\n",
        "/usr/lib/firewalld/zones/FedoraWorkstation.xml": firewalld_file(
            "zone-FedoraWorkstation.xml"
        ),
    }
    row = one_row(Firewall(firewalld_machine(tmp_path, files)))
    assert row == {
        "enabled": 0,
        "source": "firewalld",
        "detail": "firewalld: the firewalld unit is active, but its default zone is "
        "FedoraWorkstation (DefaultZone in /etc/firewalld/firewalld.conf), and zone "
        "FedoraWorkstation lets in TCP and UDP ports 1025-65535 (the <port> entries in "
        "/usr/lib/firewalld/zones/FedoraWorkstation.xml), so nearly any program can be reached "
        "from the network",
    }


def zone_with(*entries: str, target: str = "") -> str:
    attribute = f' target="{target}"' if target else ""
    return (
        f'<?xml version="1.0" encoding="utf-8"?>\n<zone{attribute}>\n'
        + "".join(f"  {entry}\n" for entry in entries)
        + "</zone>\n"
    )


@pytest.mark.parametrize(
    ("entries", "opens"),
    [
        # Pieces that together cover the range count as the range.
        (
            (
                '<port protocol="tcp" port="1025-30000"/>',
                '<port protocol="tcp" port="30001-65535"/>',
            ),
            "TCP ports 1025-65535",
        ),
        # All but at most 1000 of the unprivileged ports is nearly all.
        (('<port protocol="udp" port="2000-65535"/>',), "UDP ports 2000-65535"),
        (('<port protocol="tcp" port="1-65535"/>',), "TCP ports 1-65535"),
        # A <protocol> entry lets in every port of it.
        (('<protocol value="tcp"/>',), "TCP ports 1-65535"),
        (
            ('<port protocol="tcp" port="1-65535"/>', '<port protocol="udp" port="1025-65535"/>'),
            "TCP ports 1-65535 and UDP ports 1025-65535",
        ),
    ],
)
def test_zones_that_open_nearly_every_port_are_off(
    tmp_path: Path, entries: tuple[str, ...], opens: str
) -> None:
    files = {
        "/etc/firewalld/firewalld.conf": firewalld_file("firewalld.conf-public"),
        "/etc/firewalld/zones/public.xml": zone_with('<service name="ssh"/>', *entries),
    }
    row = one_row(Firewall(firewalld_machine(tmp_path, files)))
    assert row["enabled"] == 0
    assert (
        f"zone public lets in {opens} (the <port> entries in /etc/firewalld/zones/public.xml)"
        in (str(row["detail"]))
    )


@pytest.mark.parametrize(
    "entries",
    [
        # A few ports, or ranges leaving more than 1000 unprivileged ports closed, still filter.
        ('<port protocol="tcp" port="8080"/>', '<port protocol="udp" port="5353"/>'),
        ('<port protocol="tcp" port="1025-64000"/>',),
        ('<port protocol="tcp" port="1025-40000"/>', '<port protocol="udp" port="40001-65535"/>'),
        # Other protocols and ports that aren't numbers are not counted.
        ('<port protocol="sctp" port="1-65535"/>', '<port protocol="tcp" port="http"/>'),
    ],
)
def test_zones_that_open_some_ports_still_filter(tmp_path: Path, entries: tuple[str, ...]) -> None:
    files = {
        "/etc/firewalld/firewalld.conf": firewalld_file("firewalld.conf-public"),
        "/etc/firewalld/zones/public.xml": zone_with(*entries),
    }
    row = one_row(Firewall(firewalld_machine(tmp_path, files)))
    assert row["enabled"] == 1, row["detail"]


def test_a_dropping_zone_with_wide_ports_is_still_off(tmp_path: Path) -> None:
    files = {
        "/etc/firewalld/firewalld.conf": firewalld_file("firewalld.conf-public"),
        "/etc/firewalld/zones/public.xml": zone_with(
            '<port protocol="udp" port="1025-65535"/>', target="DROP"
        ),
    }
    row = one_row(Firewall(firewalld_machine(tmp_path, files)))
    assert row["enabled"] == 0
    assert "zone public lets in UDP ports 1025-65535" in str(row["detail"])


# -- a zone bound to every source address takes every connection --------------------------------


@pytest.mark.parametrize(
    ("address", "zone_text", "says"),
    [
        ("0.0.0.0/0", zone_with('<source address="0.0.0.0/0"/>', target="ACCEPT"), "accepts every "
         "incoming connection (target ACCEPT)"),
        ("::/0", zone_with('<source address="::/0"/>', '<port protocol="tcp" port="1-65535"/>'),
         "lets in TCP ports 1-65535"),
    ],
)  # fmt: skip
def test_a_zone_bound_to_every_address_that_lets_everything_in_is_off(
    tmp_path: Path, address: str, zone_text: str, says: str
) -> None:
    files = {
        "/etc/firewalld/firewalld.conf": firewalld_file("firewalld.conf-public"),
        "/etc/firewalld/zones/everyone.xml": zone_text,
    }
    row = one_row(Firewall(firewalld_machine(tmp_path, files)))
    assert row["enabled"] == 0
    assert row["detail"] == (
        "firewalld: the firewalld unit is active and its default zone is public (DefaultZone in "
        "/etc/firewalld/firewalld.conf), but zone everyone takes the connections from every "
        f"address ({address} in its <source> in /etc/firewalld/zones/everyone.xml) ahead of "
        f"public, and {says}"
    )


@pytest.mark.parametrize(
    "entries",
    [
        # A filtering zone bound to every address, or an open zone bound to one network.
        ('<source address="0.0.0.0/0"/>', '<service name="ssh"/>'),
        ('<source address="192.168.1.0/24"/>',),
        ('<source address="52:54:00:12:34:56"/>', '<source ipset="office"/>'),
    ],
)
def test_zones_bound_to_some_addresses_or_filtering_leave_the_verdict_on(
    tmp_path: Path, entries: tuple[str, ...]
) -> None:
    target = "default" if '<service name="ssh"/>' in entries else "ACCEPT"
    files = {
        "/etc/firewalld/firewalld.conf": firewalld_file("firewalld.conf-public"),
        "/etc/firewalld/zones/home.xml": zone_with(*entries, target=target),
    }
    row = one_row(Firewall(firewalld_machine(tmp_path, files)))
    assert row["enabled"] == 1, row["detail"]


def test_an_unreadable_zone_folder_is_not_searched_for_bindings(tmp_path: Path) -> None:
    files = {
        "/etc/firewalld/firewalld.conf": firewalld_file("firewalld.conf-public"),
        "/etc/firewalld/zones/everyone.xml": zone_with(
            '<source address="0.0.0.0/0"/>', target="ACCEPT"
        ),
    }
    machine = firewalld_machine(tmp_path, files, denied=("/etc/firewalld/zones",))
    row = one_row(Firewall(machine))
    assert row["enabled"] == 1
