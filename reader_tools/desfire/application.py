"""The settings of a new DESFire application and of a new standard data file, as bytes on the wire.

The reader encodes them (CreateApplication, CreateStdDataFile); the simulated card decodes them.
"""

from __future__ import annotations

from dataclasses import dataclass

from reader_tools.desfire.protocol import (
    KS2_CRYPTO_MASK,
    KS2_ISO_FILE_IDS,
    KS2_KEY_COUNT_MASK,
    KS2_KEY_SETTINGS_3,
    PICC_AID,
    CommMode,
    aid_from_wire,
    aid_to_wire,
)


@dataclass(frozen=True)
class ApplicationSpec:
    """CreateApplication data: AID, key settings, optional ISO file identifier and DF name."""

    aid: bytes
    key_settings_1: int
    key_settings_2: int
    key_settings_3: int | None = None
    key_set_values: bytes | None = None
    iso_file_id: int | None = None
    iso_df_name: bytes | None = None

    def __post_init__(self) -> None:
        if len(self.aid) != 3 or self.aid == PICC_AID:
            raise ValueError("an application AID is 3 bytes and not the PICC's 000000")
        if not (0 <= self.key_settings_1 <= 0xFF and 0 <= self.key_settings_2 <= 0xFF):
            raise ValueError("key settings are bytes")
        if bool(self.key_settings_2 & KS2_KEY_SETTINGS_3) != (self.key_settings_3 is not None):
            raise ValueError("key_settings_3 is present exactly when key_settings_2 has bit 0x10")
        has_key_sets = self.key_settings_3 is not None and bool(self.key_settings_3 & 0x01)
        if has_key_sets != (self.key_set_values is not None):
            raise ValueError("key_set_values is present exactly when key_settings_3 has bit 0x01")
        if self.key_set_values is not None and len(self.key_set_values) != 4:
            raise ValueError("key_set_values is 4 bytes")
        if bool(self.key_settings_2 & KS2_ISO_FILE_IDS) != (self.iso_file_id is not None):
            raise ValueError("iso_file_id is present exactly when key_settings_2 has bit 0x20")
        if self.iso_file_id is not None and not 0 <= self.iso_file_id <= 0xFFFF:
            raise ValueError("iso_file_id is two bytes")
        if self.iso_df_name is not None and (
            self.iso_file_id is None or not 1 <= len(self.iso_df_name) <= 16
        ):
            raise ValueError("iso_df_name is 1 to 16 bytes and needs an iso_file_id")

    @property
    def key_count(self) -> int:
        """Number of keys of the application (key settings 2, low nibble)."""
        return self.key_settings_2 & KS2_KEY_COUNT_MASK

    @property
    def crypto(self) -> int:
        """Key type bits of key settings 2 (0x80 AES)."""
        return self.key_settings_2 & KS2_CRYPTO_MASK

    def encode(self) -> bytes:
        """The command data of CreateApplication."""
        data = bytearray(aid_to_wire(self.aid))
        data += bytes((self.key_settings_1, self.key_settings_2))
        if self.key_settings_3 is not None:
            data.append(self.key_settings_3)
            if self.key_set_values is not None:
                data += self.key_set_values
        if self.iso_file_id is not None:
            data += self.iso_file_id.to_bytes(2, "little")
        if self.iso_df_name is not None:
            data += self.iso_df_name
        return bytes(data)

    @classmethod
    def decode(cls, data: bytes) -> ApplicationSpec:
        """Parse CreateApplication data; ValueError when it is malformed."""
        if len(data) < 5:
            raise ValueError("CreateApplication data is at least 5 bytes")
        fields: dict[str, object] = {
            "aid": aid_from_wire(data[0:3]),
            "key_settings_1": data[3],
            "key_settings_2": data[4],
        }
        position = 5
        if data[4] & KS2_KEY_SETTINGS_3:
            if len(data) < position + 1:
                raise ValueError("key settings 3 is missing")
            fields["key_settings_3"] = data[position]
            position += 1
            if data[position - 1] & 0x01:
                if len(data) < position + 4:
                    raise ValueError("the key set values are missing")
                fields["key_set_values"] = bytes(data[position : position + 4])
                position += 4
        if data[4] & KS2_ISO_FILE_IDS:
            if len(data) < position + 2:
                raise ValueError("the ISO file identifier is missing")
            fields["iso_file_id"] = int.from_bytes(data[position : position + 2], "little")
            position += 2
            if len(data) > position:
                fields["iso_df_name"] = bytes(data[position:])
                position = len(data)
        if position != len(data):
            raise ValueError("CreateApplication data is longer than its settings allow")
        return cls(**fields)  # type: ignore[arg-type]


@dataclass(frozen=True)
class StdFileSpec:
    """CreateStdDataFile data: file number, optional ISO identifier, mode, access rights, size."""

    file_no: int
    size: int
    comm_mode: CommMode = CommMode.PLAIN
    access_rights: int = 0xE000
    iso_file_id: int | None = None

    def __post_init__(self) -> None:
        if not 0 <= self.file_no <= 0x1F:
            raise ValueError("a file number is 0 to 31")
        if not 1 <= self.size <= 0xFFFFFF:
            raise ValueError("a standard data file holds 1 byte to 16 MiB")
        if not 0 <= self.access_rights <= 0xFFFF:
            raise ValueError("access rights are two bytes")

    def encode(self) -> bytes:
        """The command data of CreateStdDataFile."""
        data = bytearray((self.file_no,))
        if self.iso_file_id is not None:
            data += self.iso_file_id.to_bytes(2, "little")
        data.append(int(self.comm_mode))
        data += self.access_rights.to_bytes(2, "little")
        data += self.size.to_bytes(3, "little")
        return bytes(data)

    @classmethod
    def decode(cls, data: bytes, *, iso_file_ids: bool) -> StdFileSpec:
        """Parse CreateStdDataFile data (``iso_file_ids``: the application has ISO identifiers)."""
        if len(data) == 9 and iso_file_ids:
            iso_file_id: int | None = int.from_bytes(data[1:3], "little")
            position = 3
        elif len(data) == 7:
            iso_file_id, position = None, 1
        else:
            raise ValueError("CreateStdDataFile data is 7 bytes, or 9 with an ISO identifier")
        mode = data[position] & 0x03
        return cls(
            file_no=data[0],
            iso_file_id=iso_file_id,
            comm_mode=CommMode.PLAIN if mode in (0x00, 0x02) else CommMode(mode),
            access_rights=int.from_bytes(data[position + 1 : position + 3], "little"),
            size=int.from_bytes(data[position + 3 : position + 6], "little"),
        )
