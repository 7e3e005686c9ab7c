"""The evaluation: a policy judges the facts of one scan, and the verdicts become a ranked report.

`evaluate(policy, facts, texts)` is the one place a policy meets facts: the window's scans and
the local API's page policies both come through it. It is pure (no engine, no I/O, no clock), so
tests hand it `Facts` made by hand. It reads top to bottom: one section per kind of practice, each
with its rule, then how a verdict is put into words. The rules are Stethoscope's:

- Requirement options: `ALWAYS` (off → FAIL), `SUGGESTED` (off → NUDGE), `NEVER` (on → FAIL),
  `IF_SUPPORTED` (like ALWAYS where the platform can tell; where it cannot, not held against the
  user). A fact that could not be read is UNKNOWN — never turned into PASS or FAIL.
- `osVersion`: the bracket of the most specific platform key (`debian`, then `linux`, then
  `all`): inside `ok` → PASS, else inside `nudge` → NUDGE, else FAIL. A policy whose osVersion
  names only other platforms fails the device, as Stethoscope's did.
- `screenIdle`: the seconds until the screen locks must be inside the range.
- `stethoscopeVersion`: the Stethoscope release this app answers as (`STETHOSCOPE_RELEASE`) must
  be inside the range; `stethoscopeDesktopVersion`: this app's own version.
- `applications`: required (ALWAYS), suggested, banned (NEVER), or required to be current where
  installed (IF_SUPPORTED), per rule.
- `securitySoftware`: ON when an accepted antivirus or endpoint protection product is running,
  UNKNOWN when one is found but whether it runs cannot be told, else OFF; then judged as a
  requirement option.
- IT's own checks: a query that returns rows passes; none fails (or nudges, if not critical).
  A check done by hand (its query never returns rows: Fleet's manual-check placeholders) gets no
  verdict: the report lists it apart (`manual_checks`), or counts it as left out where IT's
  config says `manualChecks: skip`.
- Overall: FAIL if any practice fails, else NUDGE if any nudges, else PASS (UNKNOWN when no
  practice could be read at all).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace

from stethoscope_desktop.core.custom_checks import (
    CUSTOM_PRACTICE,
    CustomCheck,
    custom_check_status,
)
from stethoscope_desktop.core.facts import Fact, Facts, PlatformContext
from stethoscope_desktop.core.instructions import Instructions
from stethoscope_desktop.core.policy import (
    PLATFORM_NAMES,
    ApplicationRule,
    Policy,
    Requirement,
    SecuritySoftwareRule,
    VersionBracket,
    match_applications,
)
from stethoscope_desktop.core.report import (
    ApplicationOutcome,
    AppState,
    Evidence,
    ManualCheck,
    PracticeResult,
    Report,
    links_in,
    rank,
)
from stethoscope_desktop.core.status import FeatureState, Rating, Status
from stethoscope_desktop.core.strings import render, render_markdown
from stethoscope_desktop.core.versions import NumericRange, Version, VersionRange, parse_version
from stethoscope_desktop.tables.values import Row

# Values filled into directions that are Markdown themselves (IT's `installFrom`, the terminal
# command built of package names checked to be plain); every other value (an app name, a version,
# the organisation) is escaped so Markdown shows it as written.
MARKDOWN_VALUES = frozenset({"installFrom", "removeCommand"})
# How many of a check's rows a practice's details list.
MAX_DETAIL_ROWS = 10
DEFAULT_RATINGS: Mapping[str, Rating] = {
    "osVersion": Rating.CRITICAL,
    "diskEncryption": Rating.CRITICAL,
    "bannedApplications": Rating.CRITICAL,
    "firewall": Rating.HIGH,
    "automaticUpdates": Rating.HIGH,
    "screenLock": Rating.HIGH,
    "remoteLogin": Rating.HIGH,
    "requiredApplications": Rating.HIGH,
    "securitySoftware": Rating.HIGH,
}


def evaluate(
    policy: Policy,
    facts: Facts,
    texts: Instructions,
    *,
    organization: str = "",
    policy_files: tuple[str, ...] = (),
    policy_problems: tuple[str, ...] = (),
    show_manual_checks: bool = True,
) -> Report:
    """Judge `facts` against `policy` and return the report, explained in `texts`' language.

    `organization` fills the texts' `{{organization}}`; `policy_files` and `policy_problems`
    (where the policy came from, what was wrong with its files) are carried into the report.
    `show_manual_checks` False leaves IT's checks done by hand out (config `manualChecks: skip`).
    """
    manual = _manual_checks(policy, facts)
    explainer = _Explainer(
        texts, facts.context, facts.device.platform_name, texts.organization_words(organization)
    )
    ranked = rank(
        [
            *_os_version(policy, facts, explainer),
            *_features(policy, facts, explainer),
            *_screen_idle(policy, facts, explainer),
            *_app_versions(policy, facts, explainer),
            *_applications(policy, facts, explainer),
            *_security_software(policy, facts, explainer),
            *_custom_checks(policy, facts, explainer),
        ]
    )
    status = overall_status(p.status for p in ranked)
    return Report(
        status=status,
        summary=_summary(texts, status, ranked, organization),
        practices=ranked,
        device=facts.device,
        started_at=facts.started_at,
        duration_seconds=facts.duration_seconds,
        engine=facts.engine,
        language=texts.language,
        organization=organization,
        policy_files=policy_files,
        policy_problems=policy_problems,
        check_problems=facts.check_problems,
        table_timings=facts.table_timings,
        manual_checks=manual if show_manual_checks else (),
        manual_checks_left_out=0 if show_manual_checks else len(manual),
        policy_problems_summary=texts.string("policyErrors") if policy_problems else "",
    )


# -- osVersion -------------------------------------------------------------------------------


def _os_version(policy: Policy, facts: Facts, explainer: _Explainer) -> Iterator[PracticeResult]:
    """The OS version against this platform's bracket; none when the policy has none for it."""
    bracket = bracket_for(policy.os_version, facts.context)
    if bracket is None:
        if policy.os_version:
            yield _os_version_not_named(policy, facts, explainer)
        return
    fact = facts.for_practice("osVersion")
    observed = "" if fact.value is None else str(fact.value)
    version = parse_version(observed) if observed else None
    required = bracket.ok or bracket.nudge
    status = os_version_status(bracket, version)
    required_text = _words_for_versions(explainer.texts, required) if required else ""
    yield explainer.explain(
        key="osVersion",
        practice="osVersion",
        status=status,
        fact=fact
        if fact.reason or version
        else fact.with_reason(f"cannot read a version in {observed!r}"),
        requirement=str(required) if required else "",
        requirement_text=required_text,
        observed=observed,
        summary=version_summary(
            explainer.texts, status, explainer.platform_name, observed, required_text
        ),
    )


def _os_version_not_named(policy: Policy, facts: Facts, explainer: _Explainer) -> PracticeResult:
    """FAIL where the policy's osVersion names other platforms only, as Stethoscope did.

    IT listed the platforms it supports (`darwin`, `win32`); this one is not among them.
    """
    fact = facts.for_practice("osVersion")
    names = ", ".join(PLATFORM_NAMES.get(key, key) for key in policy.os_version)
    fill = {"platformName": explainer.platform_name, "names": names}
    return explainer.explain(
        key="osVersion",
        practice="osVersion",
        status=Status.FAIL,
        fact=fact,
        requirement="",
        requirement_text=explainer.texts.string("osVersionNotNamed", **fill),
        observed="" if fact.value is None else str(fact.value),
        values=fill,
        title=explainer.texts.string("osVersionNotNamedTitle", **fill),
        summary=explainer.texts.string("osVersionNotNamedTitle", **fill) + ".",
    )


def bracket_for(
    brackets: Mapping[str, VersionBracket], context: PlatformContext
) -> VersionBracket | None:
    """Return the osVersion bracket for this platform (e.g. debian, then linux, then all)."""
    for key in context.policy_keys():
        if key in brackets:
            return brackets[key]
    return None


def os_version_status(bracket: VersionBracket, version: Version | None) -> Status:
    """Return the verdict for the OS version against an {ok, nudge} bracket."""
    if version is None:
        return Status.UNKNOWN
    if bracket.ok is not None and bracket.ok.satisfies(version):
        return Status.PASS
    if bracket.nudge is not None and bracket.nudge.satisfies(version):
        return Status.NUDGE
    if bracket.ok is None and bracket.nudge is None:
        return Status.PASS
    return Status.FAIL


# -- features: firewall, diskEncryption, automaticUpdates, screenLock, remoteLogin, … --------


def _features(policy: Policy, facts: Facts, explainer: _Explainer) -> Iterator[PracticeResult]:
    """Each feature the policy names: its ON/OFF state against the requirement option."""
    for practice, requirement in policy.features.items():
        fact = facts.for_practice(practice)
        yield explainer.explain(
            key=practice,
            practice=practice,
            status=feature_status(requirement, fact.state),
            fact=fact,
            requirement=requirement.value,
            requirement_text=_words_for_option(explainer.texts, requirement),
            observed=""
            if fact.state is FeatureState.UNKNOWN
            else fact.state.value + (f" ({fact.detail})" if fact.detail else ""),
            requirement_option=requirement,
            summary=feature_summary(
                explainer.texts, practice, explainer.name_of(practice), requirement, fact.state
            ),
        )


# The feature practices whose state is said in sentences of their own: ON and OFF.
_FEATURE_SENTENCES: Mapping[str, tuple[str, str]] = {
    # ON means no open network is saved (as in Stethoscope: the practice holds).
    "openWifiConnections": ("summaryOpenWifiNone", "summaryOpenWifiSaved"),
}


def feature_summary(
    texts: Instructions, practice: str, name: str, requirement: Requirement, state: FeatureState
) -> str:
    """Say in one plain sentence whether a feature is on, against what is required of it."""
    if state is FeatureState.UNKNOWN:
        return ""
    on = state is FeatureState.ON
    if practice in _FEATURE_SENTENCES:
        return texts.string(_FEATURE_SENTENCES[practice][0 if on else 1])
    if requirement is Requirement.NEVER:
        key = "summaryOnForbidden" if on else "summaryOff"
    elif requirement is Requirement.SUGGESTED:
        key = "summaryOnRecommended" if on else "summaryOffRecommended"
    else:
        key = "summaryOn" if on else "summaryOffRequired"
    return texts.string(key, name=name)


def feature_status(requirement: Requirement, state: FeatureState) -> Status:
    """Return the verdict for a feature practice."""
    if state is FeatureState.UNKNOWN:
        return Status.UNKNOWN
    on = state is FeatureState.ON
    if requirement is Requirement.NEVER:
        return Status.FAIL if on else Status.PASS
    if on:
        return Status.PASS
    return Status.NUDGE if requirement is Requirement.SUGGESTED else Status.FAIL


def held_against(requirement: Requirement | None, status: Status) -> bool:
    """Return False where an UNKNOWN must not count against the user (IF_SUPPORTED)."""
    return not (status is Status.UNKNOWN and requirement is Requirement.IF_SUPPORTED)


# -- screenIdle ------------------------------------------------------------------------------


def _screen_idle(policy: Policy, facts: Facts, explainer: _Explainer) -> Iterator[PracticeResult]:
    """The seconds until the screen locks (read from the screen lock's row) against the range."""
    allowed = policy.screen_idle
    if allowed is None:
        return
    fact = facts.for_practice("screenIdle")
    known, seconds, not_a_number = _lock_after(fact)
    if not_a_number:
        fact = fact.with_reason(not_a_number)
    if known and seconds is None:
        observed = "never locks"
    else:
        observed = f"{seconds:g} seconds" if seconds is not None else ""
    required_text = _words_for_seconds(explainer.texts, allowed)
    if not known:
        summary = ""
    elif seconds is None:
        summary = explainer.texts.string("summaryIdleNever", required=required_text)
    else:
        summary = explainer.texts.string(
            "summaryIdle", count=f"{seconds:g}", required=required_text
        )
    yield explainer.explain(
        key="screenIdle",
        practice="screenIdle",
        status=screen_idle_status(allowed, seconds, known),
        fact=fact
        if known or fact.reason
        else fact.with_reason(fact.detail or "the idle time could not be read"),
        requirement=str(allowed),
        requirement_text=required_text,
        observed=observed + (f" ({fact.detail})" if known and fact.detail else ""),
        summary=summary,
    )


def _lock_after(fact: Fact) -> tuple[bool, float | None, str]:
    """Return whether the lock's timing is known, the seconds until it locks, and why not.

    None seconds: it never locks. The reason is set when the engine's value is not a number of
    seconds ('' from osqueryd, say): the timing is then not known.
    """
    enabled = fact.rows[0].get("enabled") if fact.rows else None
    never = enabled in (0, "0")
    known = fact.ok and enabled is not None and (never or fact.value is not None)
    if never or fact.value is None:
        return known, None, ""
    seconds = number_value(fact.value)
    if seconds is None:
        return False, None, f"the idle time {str(fact.value)[:40]!r} is not a number of seconds"
    return known, seconds, ""


def number_value(value: object) -> float | None:
    """Return an engine's value as a finite number, or None if it is not one ('', 'n/a', inf)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        number = value
    elif isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            return None
    else:
        return None
    try:
        result = float(number)
    except OverflowError:
        return None
    return result if math.isfinite(result) else None


def screen_idle_status(allowed: NumericRange, seconds: float | None, lock_known: bool) -> Status:
    """Return the verdict for the time until the screen locks (None: it never locks)."""
    if not lock_known:
        return Status.UNKNOWN
    if seconds is None:
        return Status.FAIL
    return Status.PASS if allowed.contains(seconds) else Status.FAIL


# -- stethoscopeVersion, stethoscopeDesktopVersion ----------------------------------------------


def _app_versions(policy: Policy, facts: Facts, explainer: _Explainer) -> Iterator[PracticeResult]:
    """The Stethoscope release this app answers as, and its own version, against their ranges."""
    for practice, product, allowed in (
        ("stethoscopeVersion", "Stethoscope", policy.stethoscope_version),
        ("stethoscopeDesktopVersion", "Stethoscope Desktop", policy.stethoscope_desktop_version),
    ):
        if allowed is None:
            continue
        fact = facts.for_practice(practice)
        observed = "" if fact.value is None else str(fact.value)
        status = version_status(allowed, observed) if observed else Status.UNKNOWN
        required_text = _words_for_versions(explainer.texts, allowed)
        yield explainer.explain(
            key=practice,
            practice=practice,
            status=status,
            fact=fact,
            requirement=str(allowed),
            requirement_text=required_text,
            observed=observed,
            values={"version": observed},
            summary=version_summary(explainer.texts, status, product, observed, required_text),
        )


def version_summary(
    texts: Instructions, status: Status, name: str, installed: str, required: str
) -> str:
    """Say in one plain sentence which version is installed, against the one asked for."""
    if status is Status.UNKNOWN:
        return ""
    if not required:
        return _sentence(texts.string("summaryAppInstalled", name=name, installed=installed))
    key = {
        Status.PASS: "summaryVersionMeets",
        Status.NUDGE: "summaryVersionRecommended",
    }.get(status, "summaryVersionRequired")
    return _sentence(texts.string(key, name=name, installed=installed, required=required))


def _sentence(text: str) -> str:
    """Return `text` with runs of spaces made one (a value left empty leaves two)."""
    return " ".join(text.split())


def version_status(allowed: VersionRange, version: str) -> Status:
    """Return the verdict for a version that must satisfy a range (the app's versions)."""
    parsed = parse_version(version)
    if parsed is None:
        return Status.UNKNOWN
    return Status.PASS if allowed.satisfies(parsed) else Status.FAIL


# -- applications ----------------------------------------------------------------------------

# Which texts explain a rule, by its assertion.
APPLICATION_TEXTS: Mapping[Requirement, str] = {
    Requirement.ALWAYS: "requiredApplications",
    Requirement.IF_SUPPORTED: "requiredApplications",
    Requirement.NEVER: "bannedApplications",
    Requirement.SUGGESTED: "suggestedApplications",
}
APP_STATE_STRINGS: Mapping[tuple[AppState, bool], str] = {
    # (state, banned rule) -> instructions string
    (AppState.INSTALLED, False): "appInstalled",
    (AppState.INSTALLED, True): "appInstalled",
    (AppState.NOT_INSTALLED, False): "appNotInstalled",
    (AppState.NOT_INSTALLED, True): "appNotBanned",
    (AppState.OUTDATED, False): "appOutdated",
    (AppState.OUTDATED, True): "appOutdated",
    (AppState.BANNED_PRESENT, True): "appBannedPresent",
    (AppState.BANNED_PRESENT, False): "appBannedPresent",
}


@dataclass(frozen=True)
class InstalledApp:
    """One installed application as a list check reports it."""

    name: str
    version: str = ""
    path: str = ""
    source: str = ""


@dataclass(frozen=True)
class ApplicationVerdict:
    """The verdict for one application rule."""

    status: Status
    state: AppState
    installed: bool
    installed_version: str
    matched: tuple[InstalledApp, ...]


def _applications(policy: Policy, facts: Facts, explainer: _Explainer) -> Iterator[PracticeResult]:
    """One result per application rule that applies to this device."""
    rules = [rule for rule in policy.applications if rule_applies(rule, facts.context)]
    if not rules:
        return
    fact = facts.for_practice("applications")
    named_rows = [row for row in fact.rows if row.get("name")]
    # Every rule against every name at once (one RE2 call per name), not once per rule and name;
    # only the matched rows become InstalledApps.
    matches = match_applications(rules, [str(row["name"]) for row in named_rows])
    for rule, matched in zip(rules, matches, strict=True):
        rows = [named_rows[i] for i in matched]
        yield _application(rule, fact, _installed_apps(rows), explainer, rows)


def _installed_apps(rows: Iterable[Row]) -> list[InstalledApp]:
    return [
        InstalledApp(
            name=str(row.get("name") or ""),
            version=str(row.get("version") or ""),
            path=str(row.get("path") or ""),
            source=str(row.get("source") or ""),
        )
        for row in rows
        if row.get("name")
    ]


def _application(
    rule: ApplicationRule,
    fact: Fact,
    matched_apps: list[InstalledApp],
    explainer: _Explainer,
    matched_rows: list[Row],
) -> PracticeResult:
    """One rule's verdict (UNKNOWN when the list could not be read), with its matching rows.

    `matched_apps` and `matched_rows` are the installed applications whose names the rule
    matches (`match_applications` found them for every rule at once).
    """
    texts = explainer.texts
    required_text = _words_for_versions(texts, rule.version) if rule.version else ""
    verdict = (
        application_status(rule, matched_apps, explainer.context, names_matched=True)
        if fact.ok
        else None
    )
    banned = rule.assertion is Requirement.NEVER
    # A banned version range with an allowed version installed: say that, not just "installed".
    allowed_version = banned and verdict is not None and verdict.state is AppState.INSTALLED
    observed = summary = title = ""
    if verdict is not None:
        observed = texts.string(
            "appAllowedVersion" if allowed_version else APP_STATE_STRINGS[(verdict.state, banned)],
            installed=verdict.installed_version or "?",
            required=required_text,
            banned=required_text,
        )
        summary = application_summary(texts, rule, verdict, required_text)
    if allowed_version:
        assert verdict is not None
        title = texts.string(
            "titleAppAllowedVersion", name=rule.name, installed=shown_version(verdict)
        )
    elif verdict is not None and verdict.status is Status.PASS and not verdict.installed:
        # Required only where installed (IF_SUPPORTED), and not installed: not "… is installed".
        title = "" if banned else texts.string("titleAppNotRequired", name=rule.name)
    values: dict[str, object] = {
        "name": rule.name,
        "installFrom": rule.install_from,
        "version": required_text,
    }
    if banned:
        banned_apps = [
            app for app in (verdict.matched if verdict else ()) if _in_range(app, rule.version)
        ]
        values["removeCommand"] = remove_command(texts, banned_apps)
    return explainer.explain(
        key=f"applications/{rule.name}",
        practice=APPLICATION_TEXTS[rule.assertion],
        status=verdict.status if verdict is not None else Status.UNKNOWN,
        fact=Fact(replace(fact.evidence, rows=tuple(matched_rows)), reason=fact.reason),
        requirement=rule.assertion.value + (f" {rule.version}" if rule.version else ""),
        requirement_text=_words_for_option(texts, rule.assertion),
        observed=observed,
        requirement_option=rule.assertion,
        values=values,
        application=_outcome(rule, verdict) if verdict is not None else None,
        description=rule.description,
        title=_sentence(title),
        summary=summary,
    )


def application_summary(
    texts: Instructions, rule: ApplicationRule, verdict: ApplicationVerdict, required: str
) -> str:
    """Say in one plain sentence what was found of an application, against the rule.

    The app is named as installed where one name matched (the rule's name may be a pattern);
    a banned range is said as such ("versions below 9.0 are not allowed").
    """
    names = tuple(dict.fromkeys(app.name for app in verdict.matched))
    name = names[0] if len(names) == 1 else rule.name
    installed = shown_version(verdict)
    state = verdict.state
    if rule.assertion is Requirement.NEVER:
        if state is AppState.BANNED_PRESENT:
            key = "summaryAppBannedVersion" if rule.version else "summaryAppBanned"
        elif state is AppState.INSTALLED:
            key = "summaryAppAllowedVersion"
        else:
            key = "summaryAppAbsent"
    elif state is AppState.INSTALLED or state is AppState.OUTDATED:
        return version_summary(texts, verdict.status, name, installed, required)
    elif rule.assertion is Requirement.SUGGESTED:
        key = "summaryAppMissingRecommended"
    elif rule.assertion is Requirement.IF_SUPPORTED:
        key = "summaryAppMissingAllowed"
    else:
        key = "summaryAppMissing"
    return _sentence(texts.string(key, name=name, installed=installed, banned=required))


# A Debian package version's epoch (`1:`) and revision (`-2+deb12u6`): not what people call it.
_DEBIAN_EPOCH = re.compile(r"^\d+:")
_DEBIAN_REVISION = re.compile(r"-[A-Za-z0-9.+~]+$")
_DEBIAN_SOURCES = frozenset({"deb", "deb_packages"})


def shown_version(verdict: ApplicationVerdict) -> str:
    """Return the installed version as people know it.

    A Debian package's without its epoch and revision (`1:9.2p1-2+deb12u6` is 9.2p1); other
    versions as the list gave them.
    """
    installed = verdict.installed_version
    source = next((app.source for app in verdict.matched if app.version == installed), "")
    if source not in _DEBIAN_SOURCES:
        return installed
    return _DEBIAN_REVISION.sub("", _DEBIAN_EPOCH.sub("", installed)) or installed


# How a package of each source is removed in a terminal (the list's source, or its table).
_REMOVERS: Mapping[str, str] = {
    "deb": "sudo apt remove",
    "deb_packages": "sudo apt remove",
    "rpm": "sudo dnf remove",
    "rpm_packages": "sudo dnf remove",
    "flatpak": "flatpak uninstall",
    "snap": "sudo snap remove",
    "pacman": "sudo pacman -R",
}
# A package name that is safe in a command shown to be copied: no spaces, quotes or backticks.
_PACKAGE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9+._:@-]{0,127}")


def remove_command(texts: Instructions, apps: Iterable[InstalledApp]) -> str:
    """Return the terminal command(s) that remove these packages, as Markdown code.

    Each package is removed by its source's tool (`sudo apt remove openssh-server`); a Flatpak
    by its application ID (its folder's name). Where no package's name is known, or none is
    plain enough to put in a command, the words of `removeCommandUnknown`.
    """
    packages: dict[str, list[str]] = {}
    for app in apps:
        tool = _REMOVERS.get(app.source)
        package = app.path.rstrip("/").rsplit("/", 1)[-1] if app.source == "flatpak" else app.name
        if tool and _PACKAGE_NAME.fullmatch(package):
            names = packages.setdefault(tool, [])
            if package not in names:
                names.append(package)
    if not packages:
        return texts.string("removeCommandUnknown")
    return ", ".join(f"`{tool} {' '.join(names)}`" for tool, names in packages.items())


def _in_range(app: InstalledApp, allowed: VersionRange | None) -> bool:
    """Return True if the app's version is in the range (any version when there is none)."""
    if allowed is None:
        return True
    version = parse_version(app.version)
    return version is not None and allowed.satisfies(version)


def _outcome(rule: ApplicationRule, verdict: ApplicationVerdict) -> ApplicationOutcome:
    return ApplicationOutcome(
        name=rule.name,
        assertion=rule.assertion.value,
        state=verdict.state,
        installed=verdict.installed,
        installed_version=verdict.installed_version,
        required_version=str(rule.version) if rule.version else "",
        matched_names=tuple(dict.fromkeys(app.name for app in verdict.matched)),
    )


def rule_applies(rule: ApplicationRule, context: PlatformContext) -> bool:
    """Return True if an application rule's platform filter includes this device."""
    if not rule.platform:
        return True
    version = parse_version(context.os_version)
    for key in context.policy_keys():
        if key not in rule.platform:
            continue
        condition = rule.platform[key]
        if isinstance(condition, bool):
            return condition
        return version is not None and condition.satisfies(version)
    return False


def application_status(
    rule: ApplicationRule,
    installed: Sequence[InstalledApp],
    context: PlatformContext,
    *,
    names_matched: bool = False,
) -> ApplicationVerdict:
    """Return the verdict for one application rule against the installed applications.

    With `names_matched`, `installed` holds only the applications whose names the rule matches
    (`match_applications` found them for every rule at once); otherwise each name is matched here.
    """
    matched = tuple(
        app
        for app in installed
        if (names_matched or rule.matches(app.name)) and _in_paths(app, rule, context)
    )
    versions = [v for app in matched if (v := parse_version(app.version)) is not None]
    found = _found_version(matched, versions)
    satisfied = bool(matched) and (
        rule.version is None or any(rule.version.satisfies(v) for v in versions)
    )
    if rule.assertion is Requirement.NEVER:
        return _banned_verdict(satisfied, matched, found)
    if satisfied:
        return ApplicationVerdict(Status.PASS, AppState.INSTALLED, True, found, matched)
    if rule.assertion is Requirement.IF_SUPPORTED and not matched:
        # As in Stethoscope: where it is installed it must be in the range; it need not be.
        return ApplicationVerdict(Status.PASS, AppState.NOT_INSTALLED, False, found, matched)
    missing = Status.NUDGE if rule.assertion is Requirement.SUGGESTED else Status.FAIL
    state = AppState.OUTDATED if matched else AppState.NOT_INSTALLED
    return ApplicationVerdict(missing, state, bool(matched), found, matched)


def _banned_verdict(
    present: bool, matched: tuple[InstalledApp, ...], found: str
) -> ApplicationVerdict:
    """A banned app: FAIL when a banned version is installed; an allowed one, or none, passes."""
    if present:
        return ApplicationVerdict(Status.FAIL, AppState.BANNED_PRESENT, True, found, matched)
    state = AppState.INSTALLED if matched else AppState.NOT_INSTALLED
    return ApplicationVerdict(Status.PASS, state, bool(matched), found, matched)


def _in_paths(app: InstalledApp, rule: ApplicationRule, context: PlatformContext) -> bool:
    for key in context.policy_keys():
        folder = rule.paths.get(key)
        if folder:
            return not app.path or app.path.startswith(folder.rstrip("/\\"))
    return True


def _found_version(matched: Sequence[InstalledApp], versions: Sequence[Version]) -> str:
    """Return the newest readable version installed, else the first one as written."""
    if versions:
        return max(versions).original
    return matched[0].version if matched else ""


# -- securitySoftware ------------------------------------------------------------------------


@dataclass(frozen=True)
class SecurityProduct:
    """One antivirus or endpoint protection product the check found, and whether it runs."""

    name: str
    running: bool | None
    detail: str = ""


def _security_software(
    policy: Policy, facts: Facts, explainer: _Explainer
) -> Iterator[PracticeResult]:
    """Whether an accepted security product runs, against the requirement option."""
    rule = policy.security_software
    if rule is None:
        return
    fact = facts.for_practice("securitySoftware")
    products = security_products(fact.rows)
    state = security_software_state(rule, products) if fact.ok else FeatureState.UNKNOWN
    accepted = [product for product in products if rule.accepts(product.name)]
    if state is FeatureState.UNKNOWN and not fact.reason:
        undecided = [product for product in accepted if product.running is None]
        fact = fact.with_reason(
            "; ".join(p.detail or f"cannot tell whether {p.name} is running" for p in undecided)
        )
    texts = explainer.texts
    yield explainer.explain(
        key="securitySoftware",
        practice="securitySoftware",
        status=feature_status(rule.requirement, state),
        fact=fact,
        requirement=str(rule),
        requirement_text=_words_for_option(texts, rule.requirement),
        observed=_security_observed(rule, state, products, accepted),
        requirement_option=rule.requirement,
        summary=feature_summary(
            texts,
            "securitySoftware",
            explainer.name_of("securitySoftware"),
            rule.requirement,
            state,
        ),
        values={
            "products": texts.string("securityProducts", products=", ".join(rule.products))
            if rule.products
            else ""
        },
    )


def security_products(rows: Iterable[Row]) -> list[SecurityProduct]:
    """Return the products of the check's rows (`name`, `enabled`, `detail`)."""
    running = {1: True, "1": True, 0: False, "0": False}
    return [
        SecurityProduct(
            name=str(row["name"]),
            running=running.get(row.get("enabled")),
            detail=str(row.get("detail") or ""),
        )
        for row in rows
        if row.get("name")
    ]


def security_software_state(
    rule: SecuritySoftwareRule, products: Sequence[SecurityProduct]
) -> FeatureState:
    """ON when an accepted product runs; UNKNOWN when one may; OFF when none is or none found."""
    accepted = [product for product in products if rule.accepts(product.name)]
    if any(product.running for product in accepted):
        return FeatureState.ON
    if any(product.running is None for product in accepted):
        return FeatureState.UNKNOWN
    return FeatureState.OFF


def _security_observed(
    rule: SecuritySoftwareRule,
    state: FeatureState,
    products: Sequence[SecurityProduct],
    accepted: Sequence[SecurityProduct],
) -> str:
    """Say which products the check saw: the running ones, or why none counts."""
    if state is FeatureState.UNKNOWN:
        return ""

    def said(chosen: Iterable[SecurityProduct]) -> str:
        return "; ".join(dict.fromkeys(p.detail or p.name for p in chosen))

    if state is FeatureState.ON:
        return f"ON ({said(p for p in accepted if p.running)})"
    if accepted:
        return f"OFF ({said(accepted)})"
    if products:
        names = ", ".join(dict.fromkeys(p.name for p in products))
        return f"OFF (none of {', '.join(rule.products)} was found; found: {names})"
    return "OFF (no antivirus or endpoint protection was found)"


# -- IT's own checks -------------------------------------------------------------------------


def _custom_checks(policy: Policy, facts: Facts, explainer: _Explainer) -> Iterator[PracticeResult]:
    """Each of IT's checks for this platform but those done by hand: its texts are its own."""
    for check in policy.custom_checks:
        if check.applies_to(facts.context.osquery) and not check.manual:
            yield _custom_check(check, facts.custom_check(check.key), explainer.texts)


def _manual_checks(policy: Policy, facts: Facts) -> tuple[ManualCheck, ...]:
    """IT's checks for this platform that are done by hand, in the policy's order."""
    return tuple(
        ManualCheck(
            key=check.key,
            title=check.name,
            description=check.description,
            directions=check.resolution,
            links=links_in(check.resolution),
        )
        for check in policy.custom_checks
        if check.applies_to(facts.context.osquery) and check.manual
    )


def _custom_check(check: CustomCheck, fact: Fact, texts: Instructions) -> PracticeResult:
    """One of IT's checks, in its own texts; a failing one as IT's `critical` says.

    Fleet's `critical: true` marks a high-impact policy (Fleet's conditional access blocks a
    device that fails one): failing, it needs attention. Any other failing check is a
    suggestion.
    """
    count = fact.value if fact.ok and isinstance(fact.value, int) else None
    status = custom_check_status(check, count)
    reason = (fact.reason or "the query could not run") if status is Status.UNKNOWN else ""
    observed = _rows_returned(count)
    requirement = "returns rows"
    if status is Status.UNKNOWN:
        summary = unknown_summary(texts, reason, fact.evidence.query_mistake)
    else:
        summary = texts.string("summaryCheckPass" if status is Status.PASS else "summaryCheckFail")
    return PracticeResult(
        key=check.key,
        practice=CUSTOM_PRACTICE,
        name=check.name,
        status=status,
        rating=check.rating,
        title=check.name,
        description=check.description,
        directions=check.resolution,
        directions_platform="",
        links=links_in(check.resolution),
        requirement=requirement,
        requirement_text="the query returns at least one row",
        observed=observed,
        reason=reason,
        held_against=True,
        evidence=fact.evidence,
        status_text=texts.status_name(status),
        rating_text=texts.rating_text(status, check.rating),
        summary=summary,
        details=practice_details(
            texts, observed=observed, reason=reason, requirement=requirement, evidence=fact.evidence
        ),
    )


def _rows_returned(count: int | None) -> str:
    if count is None:
        return ""
    if count == 0:
        return "the query returned no rows"
    return f"the query returned {count} row{'s' if count != 1 else ''}"


# -- verdicts in words -----------------------------------------------------------------------


@dataclass(frozen=True)
class _Explainer:
    """Puts a built-in practice's verdict into the report's words, for this device."""

    texts: Instructions
    context: PlatformContext
    platform_name: str
    organization: str

    def explain(
        self,
        *,
        key: str,
        practice: str,
        status: Status,
        fact: Fact,
        requirement: str,
        requirement_text: str,
        observed: str,
        requirement_option: Requirement | None = None,
        values: Mapping[str, object] | None = None,
        application: ApplicationOutcome | None = None,
        description: str = "",
        title: str = "",
        summary: str = "",
    ) -> PracticeResult:
        """Return the result: the verdict with the texts of `practice` filled in.

        `title` is the title itself, where the practice's own titles do not say what happened;
        `summary` the one plain sentence of what was found (for an UNKNOWN it is said here, from
        the reason).
        """
        texts = self.texts.practice(practice)
        fill = {
            "requirement": requirement_text,
            "platformName": self.platform_name,
            "organization": self.organization,
            **(values or {}),
        }
        platform_key, directions = texts.directions_for(
            self.context.text_keys(), self.context.os_version
        )
        directions = render_markdown(directions, fill, MARKDOWN_VALUES)
        rating = texts.rating or DEFAULT_RATINGS.get(practice, Rating.MEDIUM)
        reason = (fact.reason or "the fact could not be read") if status is Status.UNKNOWN else ""
        if status is Status.UNKNOWN:
            summary = unknown_summary(self.texts, reason, fact.evidence.query_mistake)
        return PracticeResult(
            key=key,
            practice=practice,
            name=render(texts.name, fill) or key,
            status=status,
            rating=rating,
            title=title or render(self._title(practice, status), fill) or key,
            description=description or render(texts.description, fill),
            directions=directions,
            directions_platform=platform_key,
            links=links_in(directions),
            requirement=requirement,
            requirement_text=requirement_text,
            observed=observed,
            reason=reason,
            held_against=held_against(requirement_option, status),
            evidence=fact.evidence,
            application=application,
            status_text=self.texts.status_name(status),
            rating_text=self.texts.rating_text(status, rating),
            summary=summary,
            details=practice_details(
                self.texts,
                observed=observed,
                reason=reason,
                requirement=requirement,
                evidence=fact.evidence,
            ),
        )

    def name_of(self, practice: str) -> str:
        """Return a practice's short name in the report's language ("Firewall")."""
        return render(self.texts.practice(practice).name, {}) or practice

    def _title(self, practice: str, status: Status) -> str:
        texts = self.texts.practice(practice)
        if status is Status.PASS:
            return texts.title_passing
        if status is Status.UNKNOWN:
            return texts.title_unknown or texts.title_failing
        return texts.title_failing


# Why a practice could not be checked, in plain words: the first kind of reason whose words the
# technical reason holds (our tables and engines say these), else `unknownOther`.
_UNKNOWN_KINDS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"needs osquery"), "unknownNeedsOsquery"),
    (re.compile(r"no desktop session"), "unknownNoDesktop"),
    (re.compile(r"\bis not installed\b|\bnot found on path\b"), "unknownNoTool"),
    (
        re.compile(r"\bnot run: the scan\b|\bran longer than\b|\btimed? ?out\b|\bwas stopped\b"),
        "unknownStopped",
    ),
    (
        re.compile(r"\broot\b|\badministrator|\belevated\b|permission denied|not permitted"),
        "unknownNeedsAdmin",
    ),
)


def unknown_summary(texts: Instructions, reason: str, query_mistake: bool) -> str:
    """Say in plain words why a practice could not be checked (the reason goes to details).

    No environment variables, tables or file names: a mistake in IT's query says nothing is
    wrong with the device; osquery missing, administrator rights, a check stopped for taking too
    long and no desktop session are named as such; anything else is said in general.
    """
    if query_mistake:
        return texts.string("queryMistake")
    folded = reason.casefold()
    for pattern, key in _UNKNOWN_KINDS:
        if pattern.search(folded):
            return texts.string(key)
    return texts.string("unknownOther")


def practice_details(
    texts: Instructions, *, observed: str, reason: str, requirement: str, evidence: Evidence
) -> tuple[str, ...]:
    """Return the technical lines of a practice for its collapsed Details.

    What the check saw as measured, why it could not be checked (as the engine or table said
    it; a mistake in IT's query as IT's reason), the policy's requirement as written, the check
    and its tables, and its rows as `column = value` (at most `MAX_DETAIL_ROWS`).
    """
    lines: list[str] = []
    if observed:
        lines.append(texts.string("detailSeen", observed=observed))
    if reason:
        key = "queryMistakeForIt" if evidence.query_mistake else "detailReason"
        lines.append(texts.string(key, reason=reason))
    elif evidence.error:
        lines.append(texts.string("detailReason", reason=evidence.error))
    if requirement:
        lines.append(texts.string("detailRequired", requirement=requirement))
    if evidence.tables:
        lines.append(
            texts.string("detailCheck", check=evidence.check, tables=", ".join(evidence.tables))
        )
    for row in evidence.rows[:MAX_DETAIL_ROWS]:
        shown = [f"{column} = {value}" for column, value in row.items() if value not in (None, "")]
        if shown:
            lines.append(", ".join(shown))
    hidden = len(evidence.rows) - MAX_DETAIL_ROWS
    if hidden > 0:
        lines.append(texts.string("detailMoreRows", count=hidden))
    return tuple(lines)


REQUIREMENT_STRINGS: Mapping[Requirement, str] = {
    Requirement.ALWAYS: "requirementAlways",
    Requirement.SUGGESTED: "requirementSuggested",
    Requirement.NEVER: "requirementNever",
    Requirement.IF_SUPPORTED: "requirementIfSupported",
}
# A range of one comparison with a plain version (`>=14.6`, `<9.0`), said in the report's words.
_ONE_COMPARISON = re.compile(r"^(>=|<=|<|>)\s*v?(\d+(?:\.\d+)*)$")
_COMPARISON_STRINGS: Mapping[str, str] = {
    ">=": "versionAtLeast",
    "<=": "versionAtMost",
    "<": "versionBelow",
    ">": "versionAbove",
}


def _words_for_option(texts: Instructions, requirement: Requirement) -> str:
    return texts.string(REQUIREMENT_STRINGS[requirement])


def _words_for_versions(texts: Instructions, allowed: VersionRange) -> str:
    """Say a version range in the report's language where it is one comparison (`>=x.y`)."""
    match = _ONE_COMPARISON.match(str(allowed).strip())
    if match:
        return texts.string(_COMPARISON_STRINGS[match.group(1)], version=match.group(2))
    return allowed.describe()


def _words_for_seconds(texts: Instructions, allowed: NumericRange) -> str:
    if len(allowed.comparators) == 1 and allowed.comparators[0][0] == "<=":
        return texts.string("secondsAtMost", count=f"{allowed.comparators[0][1]:g}")
    return f"{allowed.describe()} s"


# -- overall ---------------------------------------------------------------------------------


def overall_status(statuses: Iterable[Status]) -> Status:
    """Return FAIL if any fails, else NUDGE if any nudges, else PASS.

    When nothing at all could be read (every practice UNKNOWN) the device is not said to pass:
    the overall status is UNKNOWN.
    """
    seen = set(statuses)
    if Status.FAIL in seen:
        return Status.FAIL
    if Status.NUDGE in seen:
        return Status.NUDGE
    if seen == {Status.UNKNOWN}:
        return Status.UNKNOWN
    return Status.PASS


def _summary(
    texts: Instructions,
    status: Status,
    practices: tuple[PracticeResult, ...],
    organization: str,
) -> str:
    """Say the device's state in one sentence, the counts per state in its parentheses.

    The sentence is the same whatever the counts (`UiStrings.summary_head`), and each count
    agrees with its number (a counted string): "This device doesn't meet every requirement yet
    (1 needs attention, 2 suggestions)."
    """
    counts = {state: 0 for state in Status}
    for practice in practices:
        counts[practice.status] += 1
    head = texts.summary_head(status, counts, organization)
    parts = texts.count_phrases(counts)
    if not parts:
        return head
    # IT's own sentence may end in a full stop: the parentheses go before it.
    stop = head[-1] if head[-1:] in (".", "!") else "."
    return f"{head.rstrip('.!')} ({', '.join(parts)}){stop}".lstrip()
