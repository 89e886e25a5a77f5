"""The delegated application a host asks for, and the DESFire EV2 DAM layout rules it must keep.

The layout is NXP's (esc-reference.md, DAM section): AES keys (KeySettings2 bits 7-6 = 10), 1 to 14
of them; KeySettings3 present exactly when KeySettings2 has bit 0x10; the four key-set members
exactly when KeySettings3 has bit 0x01; an ISO file id exactly when KeySettings2 has bit 0x20; an
ISO DF name (1 to 16 bytes) only with a file id.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sgc_client.protocol.claims import (
    HEX_PATTERN,
    malformed,
    member,
    normalise_hex,
    optional_int,
)
from sgc_client.protocol.errors import ProtocolError, Refusal

NAME_LENGTH = 64
DESCRIPTION_LENGTH = 200
# KeySettings2 bits 7-6 give the application's key type: 10 is AES.
KEY_TYPE_MASK, AES_KEY_TYPE = 0xC0, 0x80
KS2_HAS_KS3, KS2_ISO_FILE_IDS = 0x10, 0x20
KS3_HAS_KEY_SETS = 0x01


def _invalid(message: str) -> ProtocolError:
    return ProtocolError(Refusal.INVALID_APPLICATION, message)


def _byte(value: int | None, name: str, high: int = 0xFF) -> None:
    if value is not None and not 0 <= value <= high:
        raise _invalid(f"{name} must be between 0 and {high}")


@dataclass(frozen=True)
class Application:
    """The delegated application the host wants created on the card (DESFire EV2 DAM)."""

    aid: str
    slot_version: int
    quota_limit: int
    key_settings_1: int
    key_settings_2: int
    name: str
    description: str = ""
    key_settings_3: int | None = None
    aks_version: int | None = None
    no_key_sets: int | None = None
    max_key_size: int | None = None
    app_key_set_settings: int | None = None
    iso_file_id: int | None = None
    iso_df_name: str | None = None
    key_type: str = "AES"

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """The layout rules of a DAM CreateApplication (esc-reference.md, DAM section)."""
        if not HEX_PATTERN.match(self.aid) or len(self.aid) != 6:
            raise _invalid("aid is 3 bytes in hex, e.g. F58842")
        if self.aid == "000000":
            raise _invalid("aid 000000 is the card (PICC) itself")
        _byte(self.slot_version, "slotVersion")
        _byte(self.quota_limit, "quotaLimit", 0xFFFF)
        _byte(self.key_settings_1, "keySettings1")
        _byte(self.key_settings_2, "keySettings2")
        if self.key_type != "AES" or self.key_settings_2 & KEY_TYPE_MASK != AES_KEY_TYPE:
            raise _invalid("the application's keys are AES: keyType AES, keySettings2 bits 7-6 10")
        if not 1 <= self.key_settings_2 & 0x0F <= 14:
            raise _invalid("keySettings2 must give 1 to 14 application keys (bits 3-0)")
        has_ks3 = bool(self.key_settings_2 & KS2_HAS_KS3)
        if has_ks3 != (self.key_settings_3 is not None):
            raise _invalid("keySettings3 is present exactly when keySettings2 has bit 4 (0x10)")
        _byte(self.key_settings_3, "keySettings3")
        key_sets = (
            self.aks_version,
            self.no_key_sets,
            self.max_key_size,
            self.app_key_set_settings,
        )
        wants_sets = bool(has_ks3 and (self.key_settings_3 or 0) & KS3_HAS_KEY_SETS)
        if any(v is None for v in key_sets) if wants_sets else any(v is not None for v in key_sets):
            raise _invalid(
                "aksVersion, noKeySets, maxKeySize and appKeySetSettings are present exactly "
                "when keySettings3 has bit 0 (0x01)"
            )
        for value, label in zip(
            key_sets, ("aksVersion", "noKeySets", "maxKeySize", "appKeySetSettings"), strict=True
        ):
            _byte(value, label)
        if bool(self.key_settings_2 & KS2_ISO_FILE_IDS) != (self.iso_file_id is not None):
            raise _invalid("isoFileId is present exactly when keySettings2 has bit 5 (0x20)")
        _byte(self.iso_file_id, "isoFileId", 0xFFFF)
        if self.iso_df_name is not None:
            if self.iso_file_id is None:
                raise _invalid("isoDfName needs isoFileId")
            if not HEX_PATTERN.match(self.iso_df_name) or not 1 <= len(self.iso_df_name) // 2 <= 16:
                raise _invalid("isoDfName is 1 to 16 bytes in hex")
            if len(self.iso_df_name) % 2:
                raise _invalid("isoDfName is 1 to 16 bytes in hex")
        if not 1 <= len(self.name) <= NAME_LENGTH or not self.name.isprintable():
            raise _invalid(f"name is 1 to {NAME_LENGTH} printable characters")
        if len(self.description) > DESCRIPTION_LENGTH or not self.description.isprintable():
            raise _invalid(f"description is at most {DESCRIPTION_LENGTH} printable characters")

    def claims(self) -> dict[str, Any]:
        """The ``application`` member of a request (optional parts left out when absent)."""
        claims: dict[str, Any] = {
            "aid": self.aid,
            "slotVersion": self.slot_version,
            "quotaLimit": self.quota_limit,
            "keySettings1": self.key_settings_1,
            "keySettings2": self.key_settings_2,
            "keySettings3": self.key_settings_3,
            "aksVersion": self.aks_version,
            "noKeySets": self.no_key_sets,
            "maxKeySize": self.max_key_size,
            "appKeySetSettings": self.app_key_set_settings,
            "isoFileId": self.iso_file_id,
            "isoDfName": self.iso_df_name,
            "keyType": self.key_type,
            "name": self.name,
            "description": self.description,
        }
        return {name: value for name, value in claims.items() if value is not None}

    @classmethod
    def from_claims(cls, claims: Any) -> Application:
        """Read and validate the ``application`` member of a request."""
        if not isinstance(claims, Mapping):
            raise malformed("'application' is not an object")
        description = claims.get("description", "")
        if not isinstance(description, str):
            raise malformed("'description' is not text")
        df_name = claims.get("isoDfName")
        return cls(
            aid=normalise_hex(claims.get("aid"), "aid", (3,)),
            slot_version=member(claims, "slotVersion", int),
            quota_limit=member(claims, "quotaLimit", int),
            key_settings_1=member(claims, "keySettings1", int),
            key_settings_2=member(claims, "keySettings2", int),
            key_settings_3=optional_int(claims, "keySettings3"),
            aks_version=optional_int(claims, "aksVersion"),
            no_key_sets=optional_int(claims, "noKeySets"),
            max_key_size=optional_int(claims, "maxKeySize"),
            app_key_set_settings=optional_int(claims, "appKeySetSettings"),
            iso_file_id=optional_int(claims, "isoFileId"),
            iso_df_name=None
            if df_name is None
            else normalise_hex(df_name, "isoDfName", tuple(range(1, 17))),
            key_type=member(claims, "keyType", str),
            name=member(claims, "name", str),
            description=description,
        )
