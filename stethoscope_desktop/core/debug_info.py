"""The "Copy debug info" text: what IT support needs to know about this app on this computer.

Plain text for a support ticket: the versions (the app, the engine and osqueryd where it ran,
the runtime), the platform, the policy sources in force and their problems, the last check's
outcome (or why there is none) and the report, practice by practice. The labels are English,
for IT; the report's own texts (titles, summary) are in the person's language.

It is built in the tray process from what the scan worker sent with the last report, so it
imports no YAML, policy or Qt code, and it works before the first report too.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from stethoscope_desktop.core.protocol import ScanResult
from stethoscope_desktop.core.report import PracticeResult, Report
from stethoscope_desktop.core.status import Status

INDENT = "  "


def debug_info(
    result: ScanResult | None,
    *,
    app_version: str,
    runtime: Mapping[str, str],
    now: datetime,
    failure: str = "",
) -> str:
    """Return the debug info text.

    `result` is the last report with its settings (None before the first); `runtime` names the
    tray's own versions and system (Python, Qt, the OS as Python sees it); `failure` is why the
    last check brought no report, if it did not.
    """
    report = result.report if result is not None else None
    lines = [f"Stethoscope Desktop debug info, {now.isoformat(timespec='seconds')}", ""]
    lines += _section("Versions", _versions(report, app_version, runtime))
    lines += _section("Platform", _platform(report, runtime))
    if report is None:
        lines += _section("Last check", _no_report(failure))
        return "\n".join(lines).rstrip() + "\n"
    lines += _section("Policy sources (in force, lowest layer first)", list(report.policy_files))
    lines += _section("Problems in these files", list(report.policy_problems) or ["none"])
    if report.check_problems:
        lines += _section("Problems in the check definitions", list(report.check_problems))
    lines += _section("Last check", _last_check(report, failure))
    lines += _section("Report", [line for p in report.practices for line in _practice(p)])
    errors = [f"{t.table}: {t.error}" for t in report.table_timings if t.error]
    if errors:
        lines += _section("Table errors", errors)
    return "\n".join(lines).rstrip() + "\n"


def _section(title: str, body: list[str]) -> list[str]:
    return [title, *(INDENT + line for line in body), ""]


def _versions(report: Report | None, app_version: str, runtime: Mapping[str, str]) -> list[str]:
    lines = [f"Stethoscope Desktop {app_version}"]
    if report is None:
        lines.append("engine: not known before the first check")
    else:
        if report.device.stethoscope_version:
            # What web apps read as device.stethoscopeVersion and policies are judged by.
            lines.append(f"answers web apps as Stethoscope {report.device.stethoscope_version}")
        engine = report.engine
        name = f"{engine.name} {engine.version}".strip()
        lines.append(f"engine: {name}" + (f" ({engine.reason})" if engine.reason else ""))
    tools = [f"{name} {version}" for name, version in runtime.items() if name != "system"]
    if tools:
        lines.append(" · ".join(tools))
    return lines


def _platform(report: Report | None, runtime: Mapping[str, str]) -> list[str]:
    lines = []
    if report is not None:
        device = report.device
        os_line = f"{device.os_name or device.platform_name} {device.os_version}".strip()
        details = [
            f"build {device.os_build}" if device.os_build else "",
            f"distribution {device.distribution}" if device.distribution else "",
        ]
        extra = ", ".join(part for part in details if part)
        lines.append(f"{device.platform}: {os_line}" + (f" ({extra})" if extra else ""))
        hardware = f"{device.hardware_vendor} {device.hardware_model}".strip()
        if hardware:
            lines.append(f"hardware: {hardware}")
        if device.device_name:
            lines.append(f"device name: {device.device_name}")
        lines.append(f"running as administrator: {'yes' if device.running_as_admin else 'no'}")
    if runtime.get("system"):
        lines.append(f"system: {runtime['system']}")
    return lines


def _no_report(failure: str) -> list[str]:
    if failure:
        return [f"no report: the last check failed: {failure}"]
    return ["no report yet: the first check has not finished"]


def _last_check(report: Report, failure: str) -> list[str]:
    lines = [
        f"started {report.started_at}, took {report.duration_seconds * 1000:.0f} ms, "
        f"language {report.language}, organization {report.organization or '(none)'}",
        f"{report.status.value}: {report.summary}",
    ]
    counts = ", ".join(f"{count} {status.value}" for status, count in report.counts().items())
    lines.append(f"practices: {counts}")
    if report.manual_checks or report.manual_checks_left_out:
        lines.append(
            f"checks by hand (not evaluated): {len(report.manual_checks)} shown, "
            f"{report.manual_checks_left_out} left out by IT's setting"
        )
    if failure:
        lines.append(f"the check after it failed: {failure}")
    return lines


def _practice(practice: PracticeResult) -> list[str]:
    head = f"{practice.status.value:<8} {practice.key}: {practice.title} ({practice.rating.value})"
    facts = [
        f"requires {practice.requirement}" if practice.requirement else "",
        f"saw {practice.observed}" if practice.observed else "",
        f"check {practice.evidence.check}" if practice.evidence.check else "",
        f"directions for {practice.directions_platform}" if practice.directions_platform else "",
    ]
    lines = [head, INDENT * 2 + " · ".join(part for part in facts if part)]
    if practice.status is Status.UNKNOWN and practice.reason:
        lines.append(INDENT * 2 + f"couldn't check: {practice.reason}")
    if practice.evidence.error and practice.evidence.error != practice.reason:
        lines.append(INDENT * 2 + f"error: {practice.evidence.error}")
    return [line for line in lines if line.strip()]
