"""The home institution's delegation policy: which hosts may add which applications to its cards.

A TOML file; anything it does not allow is refused (an empty or missing policy refuses all)::

    [cards]
    max_delegations = 4          # DAM slots a card may give away (default 4)

    [[hosts]]
    pic = "888888888"            # the host institution
    aids = ["F58842"]            # applications it may add ("*": any)
    max_quota = 64               # largest quotaLimit, in 32-byte blocks
    approval = "auto"            # or "manual": queued until a person decides
    keys = ["<RFC 7638 thumbprint>"]   # optional: trust only these keys of the host
"""

from __future__ import annotations

import enum
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sgc_client.protocol.delegation import DelegationRequest, normalise_hex, pic_of
from sgc_client.protocol.errors import ProtocolError

DEFAULT_MAX_DELEGATIONS = 4


class PolicyError(ValueError):
    """The policy file cannot be read or breaks its own format."""


class Action(enum.StrEnum):
    """What the policy says to do with a request."""

    APPROVE = "approve"
    REFUSE = "refuse"
    QUEUE = "queue"


@dataclass(frozen=True)
class Verdict:
    """The policy's answer, with the reason given to the host on a refusal."""

    action: Action
    reason: str


@dataclass(frozen=True)
class HostRule:
    """What one host institution may do."""

    pic: str
    aids: frozenset[str]
    max_quota: int
    manual: bool
    keys: tuple[str, ...] = ()

    def allows_aid(self, aid: str) -> bool:
        """Whether the host may add application ``aid``."""
        return "*" in self.aids or aid in self.aids


@dataclass(frozen=True)
class Policy:
    """The whole policy: per-host rules and the per-card slot limit."""

    hosts: Mapping[str, HostRule] = field(default_factory=dict)
    max_delegations_per_card: int = DEFAULT_MAX_DELEGATIONS

    @property
    def pins(self) -> dict[str, tuple[str, ...]]:
        """The hosts' pinned key thumbprints (for the key resolver)."""
        return {pic: rule.keys for pic, rule in self.hosts.items() if rule.keys}

    def judge(self, request: DelegationRequest) -> Verdict:
        """Approve, queue for a person, or refuse (with the reason the host will read)."""
        rule = self.hosts.get(request.host)
        if rule is None:
            return Verdict(Action.REFUSE, f"{request.host} is not allowed to add applications")
        aid = request.application.aid
        if not rule.allows_aid(aid):
            return Verdict(Action.REFUSE, f"application {aid} is not allowed for {request.host}")
        if request.application.quota_limit > rule.max_quota:
            return Verdict(
                Action.REFUSE,
                f"quota {request.application.quota_limit} is above the {rule.max_quota} allowed",
            )
        if rule.manual:
            return Verdict(Action.QUEUE, "waiting for a person to decide")
        return Verdict(Action.APPROVE, "")


def _host_rule(entry: Any, index: int) -> HostRule:
    where = f"hosts[{index}]"
    if not isinstance(entry, Mapping):
        raise PolicyError(f"{where} is not a table")
    unknown = set(entry) - {"pic", "aids", "max_quota", "approval", "keys"}
    if unknown:
        raise PolicyError(f"{where}: unknown setting(s) {', '.join(sorted(unknown))}")
    try:
        pic = pic_of(entry.get("pic"), "pic")
        aids = entry.get("aids", [])
        if not isinstance(aids, list) or not aids:
            raise PolicyError(f"{where}.aids lists the allowed AIDs (or '*')")
        normal = frozenset("*" if a == "*" else normalise_hex(a, "aid", (3,)) for a in aids)
    except ProtocolError as error:
        raise PolicyError(f"{where}: {error.message}") from error
    max_quota = entry.get("max_quota", 0)
    if not isinstance(max_quota, int) or not 0 <= max_quota <= 0xFFFF:
        raise PolicyError(f"{where}.max_quota is 0..65535 blocks of 32 bytes")
    approval = entry.get("approval", "manual")
    if approval not in ("auto", "manual"):
        raise PolicyError(f"{where}.approval is auto or manual")
    keys = entry.get("keys", [])
    if not isinstance(keys, list) or not all(isinstance(k, str) and k for k in keys):
        raise PolicyError(f"{where}.keys lists key thumbprints")
    return HostRule(pic, normal, max_quota, approval == "manual", tuple(keys))


def parse_policy(document: Mapping[str, Any]) -> Policy:
    """A policy from its TOML document."""
    unknown = set(document) - {"hosts", "cards"}
    if unknown:
        raise PolicyError(f"unknown section(s) {', '.join(sorted(unknown))}")
    cards = document.get("cards", {})
    limit = cards.get("max_delegations", DEFAULT_MAX_DELEGATIONS)
    if not isinstance(limit, int) or not 0 <= limit <= 0xFFFF:
        raise PolicyError("cards.max_delegations is 0..65535")
    rules: dict[str, HostRule] = {}
    for index, entry in enumerate(document.get("hosts", [])):
        rule = _host_rule(entry, index)
        if rule.pic in rules:
            raise PolicyError(f"host {rule.pic} appears twice")
        rules[rule.pic] = rule
    return Policy(hosts=rules, max_delegations_per_card=limit)


def load_policy(path: Path | None) -> Policy:
    """The policy in ``path``; no file means the default, which refuses everything."""
    if path is None:
        return Policy()
    try:
        with path.open("rb") as handle:
            return parse_policy(tomllib.load(handle))
    except (OSError, tomllib.TOMLDecodeError) as error:
        raise PolicyError(f"{path}: {error}") from error
