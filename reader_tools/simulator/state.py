"""What a simulated DESFire EV2 card remembers: keys, applications, files, DAM slots.

Saved as JSON (keys and data in hex) and loaded back, so a test can write a card, put it away and
read it later, or compare a card's state before and after an operation.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from reader_tools.desfire.protocol import CommMode

STATE_FORMAT = 1
BLOCK_BYTES = 32
# An 8 kB DESFire EV2: the user memory a blank one reports free (FreeMemory), in 32-byte blocks.
DEFAULT_MEMORY_BLOCKS = 7936 // BLOCK_BYTES
BLANK_KEY = bytes(16)


def blocks_for(size: int) -> int:
    """32-byte blocks a file of ``size`` bytes occupies."""
    return -(-size // BLOCK_BYTES)


@dataclass
class Key:
    """An AES key slot and its version."""

    value: bytes = field(default=BLANK_KEY, repr=False)
    version: int = 0


@dataclass
class DataFile:
    """A standard data file."""

    file_no: int
    size: int
    comm_mode: CommMode
    access_rights: int
    iso_file_id: int | None = None
    data: bytearray = field(default_factory=bytearray, repr=False)

    def __post_init__(self) -> None:
        if not self.data:
            self.data = bytearray(self.size)

    @property
    def read_key(self) -> int:
        """Key needed to read (0xE free, 0xF never)."""
        return self.access_rights >> 12 & 0x0F

    @property
    def write_key(self) -> int:
        """Key needed to write."""
        return self.access_rights >> 8 & 0x0F

    @property
    def read_write_key(self) -> int:
        """Key that may read and write."""
        return self.access_rights >> 4 & 0x0F

    @property
    def change_key(self) -> int:
        """Key that may change the access rights."""
        return self.access_rights & 0x0F


@dataclass
class Application:
    """An application: its key settings, keys and files; a delegated one also has its DAM slot."""

    aid: bytes
    key_settings_1: int
    key_settings_2: int
    keys: list[Key]
    key_settings_3: int | None = None
    iso_file_id: int | None = None
    iso_df_name: bytes | None = None
    files: dict[int, DataFile] = field(default_factory=dict)
    dam_slot_no: int | None = None
    quota_blocks: int | None = None

    @property
    def used_blocks(self) -> int:
        """Blocks taken by the application's files."""
        return sum(blocks_for(f.size) for f in self.files.values())


@dataclass
class DamSlot:
    """A DAM slot: the delegated application it holds and the memory granted to it."""

    slot_no: int
    slot_version: int
    quota_limit: int
    aid: bytes | None


@dataclass
class CardState:
    """Everything a simulated card keeps between sessions."""

    uid: bytes
    master_key: Key = field(default_factory=Key)
    picc_key_settings: int = 0x0F
    dam_keys: dict[int, Key] = field(
        default_factory=lambda: {0x10: Key(), 0x11: Key(), 0x12: Key()}
    )
    applications: dict[bytes, Application] = field(default_factory=dict)
    dam_slots: dict[int, DamSlot] = field(default_factory=dict)
    memory_blocks: int = DEFAULT_MEMORY_BLOCKS

    @classmethod
    def blank(cls, uid: bytes | None = None) -> CardState:
        """A blank card (AES master key of zeros, no applications) with a random 7-byte UID."""
        return cls(uid=uid or b"\x04" + secrets.token_bytes(6))

    def used_blocks(self) -> int:
        """Blocks taken: ordinary applications' files, and each delegated application's quota."""
        return sum(
            app.quota_blocks if app.quota_blocks is not None else app.used_blocks
            for app in self.applications.values()
        )

    def free_blocks(self) -> int:
        """Blocks still free on the card."""
        return self.memory_blocks - self.used_blocks()

    # -- persistence ---------------------------------------------------------------------

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dictionary of the whole state."""
        return {
            "format": STATE_FORMAT,
            "uid": self.uid.hex(),
            "masterKey": _key_json(self.master_key),
            "piccKeySettings": self.picc_key_settings,
            "damKeys": {f"{no:02x}": _key_json(key) for no, key in self.dam_keys.items()},
            "memoryBlocks": self.memory_blocks,
            "applications": [_application_json(app) for app in self.applications.values()],
            "damSlots": [
                {
                    "slotNo": slot.slot_no,
                    "slotVersion": slot.slot_version,
                    "quotaLimit": slot.quota_limit,
                    "aid": slot.aid.hex() if slot.aid is not None else None,
                }
                for slot in self.dam_slots.values()
            ],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> CardState:
        """Read back :meth:`to_json`."""
        if data.get("format") != STATE_FORMAT:
            raise ValueError(f"unknown card state format {data.get('format')!r}")
        applications = [_application_from_json(item) for item in data["applications"]]
        return cls(
            uid=bytes.fromhex(data["uid"]),
            master_key=_key_from_json(data["masterKey"]),
            picc_key_settings=int(data["piccKeySettings"]),
            dam_keys={int(no, 16): _key_from_json(key) for no, key in data["damKeys"].items()},
            memory_blocks=int(data["memoryBlocks"]),
            applications={app.aid: app for app in applications},
            dam_slots={
                int(item["slotNo"]): DamSlot(
                    slot_no=int(item["slotNo"]),
                    slot_version=int(item["slotVersion"]),
                    quota_limit=int(item["quotaLimit"]),
                    aid=bytes.fromhex(item["aid"]) if item["aid"] is not None else None,
                )
                for item in data["damSlots"]
            },
        )

    def save(self, path: Path) -> None:
        """Write the state to ``path`` (JSON), replacing the file atomically."""
        temporary = path.with_name(path.name + ".tmp")
        temporary.write_text(json.dumps(self.to_json(), indent=2) + "\n")
        temporary.replace(path)

    @classmethod
    def load(cls, path: Path) -> CardState:
        """Read a state saved with :meth:`save`."""
        return cls.from_json(json.loads(path.read_text()))


def _key_json(key: Key) -> dict[str, Any]:
    return {"value": key.value.hex(), "version": key.version}


def _key_from_json(data: dict[str, Any]) -> Key:
    return Key(value=bytes.fromhex(data["value"]), version=int(data["version"]))


def _application_json(app: Application) -> dict[str, Any]:
    return {
        "aid": app.aid.hex(),
        "keySettings1": app.key_settings_1,
        "keySettings2": app.key_settings_2,
        "keySettings3": app.key_settings_3,
        "keys": [_key_json(key) for key in app.keys],
        "isoFileId": app.iso_file_id,
        "isoDfName": app.iso_df_name.hex() if app.iso_df_name is not None else None,
        "damSlotNo": app.dam_slot_no,
        "quotaBlocks": app.quota_blocks,
        "files": [
            {
                "fileNo": f.file_no,
                "size": f.size,
                "commMode": int(f.comm_mode),
                "accessRights": f.access_rights,
                "isoFileId": f.iso_file_id,
                "data": bytes(f.data).hex(),
            }
            for f in app.files.values()
        ],
    }


def _application_from_json(data: dict[str, Any]) -> Application:
    files = [
        DataFile(
            file_no=int(item["fileNo"]),
            size=int(item["size"]),
            comm_mode=CommMode(int(item["commMode"])),
            access_rights=int(item["accessRights"]),
            iso_file_id=item["isoFileId"],
            data=bytearray.fromhex(item["data"]),
        )
        for item in data["files"]
    ]
    return Application(
        aid=bytes.fromhex(data["aid"]),
        key_settings_1=int(data["keySettings1"]),
        key_settings_2=int(data["keySettings2"]),
        key_settings_3=data["keySettings3"],
        keys=[_key_from_json(key) for key in data["keys"]],
        iso_file_id=data["isoFileId"],
        iso_df_name=bytes.fromhex(data["isoDfName"]) if data["isoDfName"] is not None else None,
        dam_slot_no=data["damSlotNo"],
        quota_blocks=data["quotaBlocks"],
        files={f.file_no: f for f in files},
    )
