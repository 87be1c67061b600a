"""The Asterisk configuration we ship is least-privilege (case 38): a static lint of deploy/asterisk/."""

from __future__ import annotations

import ipaddress
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
MANAGER_CONF = ROOT / "deploy" / "asterisk" / "manager.conf"
ASTERISK_CONF = ROOT / "deploy" / "asterisk" / "asterisk.conf"
DEPLOYMENT_DOC = ROOT / "docs" / "deployment.md"

# Classes that let an AMI user run shell commands, change configuration, or everything at once.
FORBIDDEN_CLASSES = {"system", "command", "config", "all"}
# Each AMI action the bridge sends, and the write classes Asterisk accepts for it (any one will do).
ACTION_CLASSES = {
    "Originate": {"originate"},
    "Hangup": {"system", "call"},
    "Park": {"call"},
    "Redirect": {"call"},
    "BlindTransfer": {"call"},
    "Atxfer": {"call"},
    "CancelAtxfer": {"call"},
    "PlayDTMF": {"call"},
    "Status": {"system", "call", "reporting"},
    "Getvar": {"call", "reporting"},
    "QueuePause": {"agent"},
    "CoreShowChannels": {"system", "reporting"},
}
# Events the tracker needs: channels and bridges (call) and queues (agent).
NEEDED_READ = {"call", "agent"}


def parse_conf(text: str) -> list[tuple[str, list[tuple[str, str]]]]:
    """Asterisk's config format: ``[section]``, ``key = value`` / ``key => value``, ``;`` comments."""
    sections: list[tuple[str, list[tuple[str, str]]]] = []
    for number, raw in enumerate(text.splitlines(), 1):
        line = re.sub(r"(?<!\\);.*", "", raw).strip()
        if not line:
            continue
        header = re.fullmatch(r"\[([^\]]+)\](\(.*\))?", line)
        if header:
            sections.append((header.group(1).strip(), []))
            continue
        match = re.fullmatch(r"([^=]+?)\s*=>?\s*(.*)", line)
        if match is None or not sections:
            raise ValueError(f"line {number}: not a setting: {raw!r}")
        sections[-1][1].append((match.group(1).strip().lower(), match.group(2).strip()))
    return sections


def network(value: str) -> ipaddress.IPv4Network:
    address, _, mask = value.partition("/")
    return ipaddress.ip_network(f"{address}/{mask or '32'}", strict=False)


def classes(value: str) -> set[str]:
    return {part.strip().lower() for part in value.split(",") if part.strip()}


def lint_manager_conf(text: str) -> list[str]:
    """Every way the manager.conf gives the bridge's AMI users more than they need."""
    problems = []
    for name, settings in parse_conf(text):
        if name.lower() == "general":
            continue
        keys = [key for key, _ in settings]
        values = dict(settings)
        if not values.get("secret"):
            problems.append(f"[{name}]: no secret")
        acl = [(key, value) for key, value in settings if key in {"deny", "permit", "acl"}]
        if not acl or acl[0][0] != "deny" or network(acl[0][1]).prefixlen != 0:
            problems.append(f"[{name}]: must start with deny=0.0.0.0/0.0.0.0")
        permits = [network(value) for key, value in acl if key == "permit"]
        if not permits:
            problems.append(f"[{name}]: no permit= after the deny (nobody could log in)")
        for permit in permits:
            if permit.prefixlen < 24:
                problems.append(f"[{name}]: permit={permit} lets a whole network in; permit the bridge hosts only")
        if "acl" in keys:
            problems.append(f"[{name}]: a named acl= hides what is permitted; list permit= lines here")
        for direction in ("read", "write"):
            granted = classes(values.get(direction, ""))
            for bad in sorted(granted & FORBIDDEN_CLASSES):
                problems.append(f"[{name}]: {direction} includes {bad}")
        write = classes(values.get("write", ""))
        for action, accepted in ACTION_CLASSES.items():
            if not write & accepted - FORBIDDEN_CLASSES:
                problems.append(f"[{name}]: write lacks {'/'.join(sorted(accepted - FORBIDDEN_CLASSES))} for {action}")
        missing_read = NEEDED_READ - classes(values.get("read", ""))
        if missing_read:
            problems.append(f"[{name}]: read lacks {', '.join(sorted(missing_read))}")
    if not any(name.lower() != "general" for name, _ in parse_conf(text)):
        problems.append("no AMI user section")
    return problems


def lint_asterisk_conf(text: str) -> list[str]:
    options = dict(next((settings for name, settings in parse_conf(text) if name == "options"), []))
    if options.get("live_dangerously", "").lower() != "no":
        return ["[options] live_dangerously must be no"]
    return []


def test_the_shipped_manager_conf_passes_the_lint():
    assert lint_manager_conf(MANAGER_CONF.read_text()) == []


def test_the_shipped_asterisk_conf_turns_live_dangerously_off():
    assert lint_asterisk_conf(ASTERISK_CONF.read_text()) == []


def test_the_shipped_secret_is_a_placeholder_to_replace():
    (secret,) = [value for name, settings in parse_conf(MANAGER_CONF.read_text()) for key, value in settings if key == "secret"]  # fmt: skip
    assert "CHANGE-ME" in secret


def test_the_deployment_guide_names_the_fixed_asterisk_versions():
    text = DEPLOYMENT_DOC.read_text()
    for version in ("18.24.2", "20.9.2", "21.4.2", "CVE-2024-42365", "live_dangerously"):
        assert version in text


def _variant(old: str, new: str) -> str:
    text = MANAGER_CONF.read_text()
    assert old in text, old
    return text.replace(old, new)


@pytest.mark.parametrize(
    ("old", "new", "problem"),
    [
        ("write = call,agent,user,originate,reporting", "write = all", "write includes all"),
        (
            "write = call,agent,user,originate,reporting",
            "write = call,agent,originate,reporting,system",
            "write includes system",
        ),  # fmt: skip
        ("read = call,agent,user,originate", "read = call,agent,command", "read includes command"),
        ("read = call,agent,user,originate", "read = call,agent,config", "read includes config"),
        ("read = call,agent,user,originate", "read = call,user", "read lacks agent"),
        (
            "write = call,agent,user,originate,reporting",
            "write = call,agent,user,reporting",
            "write lacks originate for Originate",
        ),  # fmt: skip
        (
            "write = call,agent,user,originate,reporting",
            "write = call,agent,user,originate",
            "for CoreShowChannels",
        ),  # fmt: skip
        (
            "permit = 192.0.2.21/255.255.255.255",
            "permit = 0.0.0.0/0.0.0.0",
            "permit=0.0.0.0/0 lets a whole network in",
        ),  # fmt: skip
        ("permit = 192.0.2.21/255.255.255.255", "permit = 10.0.0.0/8", "lets a whole network in"),
        ("deny = 0.0.0.0/0.0.0.0\n", "", "must start with deny"),
        ("deny = 0.0.0.0/0.0.0.0\n", "deny = 203.0.113.0/255.255.255.0\n", "must start with deny"),
        ("secret = CHANGE-ME-to-a-long-random-secret", "secret =", "no secret"),
    ],
)
def test_the_lint_catches_a_dangerous_manager_conf(old, new, problem):
    problems = lint_manager_conf(_variant(old, new))
    assert any(problem in found for found in problems), problems


def test_the_lint_catches_a_permit_before_the_deny():
    text = _variant("deny = 0.0.0.0/0.0.0.0\n", "").replace("[bridge]\n", "[bridge]\npermit = 192.0.2.9\ndeny = 0.0.0.0/0\n")  # fmt: skip
    assert any("must start with deny" in found for found in lint_manager_conf(text))


def test_the_lint_catches_only_permits_removed():
    text = re.sub(r"^permit = .*\n", "", MANAGER_CONF.read_text(), flags=re.MULTILINE)
    assert any("no permit=" in found for found in lint_manager_conf(text))


@pytest.mark.parametrize("line", ["live_dangerously = yes", "", "live_dangerously=maybe"])
def test_the_lint_catches_live_dangerously_not_off(line):
    assert lint_asterisk_conf(f"[options]\nverbose = 3\n{line}\n") != []


def test_the_parser_reads_asterisk_syntax():
    parsed = parse_conf("[general]\nenabled => yes ; comment\n\n[u](!)\nread = call\\;x\n")
    assert parsed == [("general", [("enabled", "yes")]), ("u", [("read", "call\\;x")])]
    with pytest.raises(ValueError, match="line 2"):
        parse_conf("[s]\nno setting here\n")
