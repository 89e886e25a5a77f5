"""The one implementation of MIFARE DESFire card cryptography: AN10922, DAM, EV2 secure messaging.

Imported by the home institution's tools, the kiosk and the simulated card, never by the router.
It uses only the standard library and ``cryptography`` (AES and AES-CMAC come from there; nothing
here re-implements a primitive). All keys are AES-128 (16 bytes) unless a function says otherwise;
AIDs are given as 3 bytes in written order (``F58840``) and put least significant byte first on the
wire.

Key diversification inputs (NXP AN10922 AES-128), kept here in one named place:

- DAM keys of a card (PICC keys 0x10 auth, 0x11 MAC, 0x12 ENC): input = UID || ``00 00 00`` (the
  PICC's AID) || key number, each from its own base key (:func:`diversify_dam_keys`).
- Chip data zone keys of application F58840: key 1 with the ESCN's 16 raw bytes, key 2 with the UID
  (:func:`cdz_keys`); key 0, the application's master key, with UID || ``40 88 F5`` (the AID as
  the card receives it) || ``00`` (:func:`cdz_master_key`).
"""

from __future__ import annotations

import hmac
import secrets
import zlib
from dataclasses import dataclass, field

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.cmac import CMAC

BLOCK_SIZE = 16
AES_KEY_SIZE = 16
ZERO_IV = bytes(BLOCK_SIZE)

PICC_AID = bytes(3)
DAM_AUTH_KEY_NO = 0x10
DAM_MAC_KEY_NO = 0x11
DAM_ENC_KEY_NO = 0x12
CREATE_DELEGATED_APPLICATION = 0xC9
ENCK_SIZE = 32
DAM_MAC_SIZE = 8
EV2_MAC_SIZE = 8

_EV2_COMMAND_LABEL = b"\xa5\x5a"
_EV2_RESPONSE_LABEL = b"\x5a\xa5"


class CryptogramError(ValueError):
    """A cryptogram that does not decrypt to well-formed plaintext (bad length or padding)."""


def _require_key(key: bytes, name: str = "key", sizes: tuple[int, ...] = (AES_KEY_SIZE,)) -> None:
    if not isinstance(key, bytes | bytearray) or len(key) not in sizes:
        wanted = " or ".join(str(size) for size in sizes)
        raise ValueError(f"{name} must be {wanted} bytes")


def _xor(left: bytes, right: bytes) -> bytes:
    return bytes(a ^ b for a, b in zip(left, right, strict=True))


def aes_encrypt_block(key: bytes, block: bytes) -> bytes:
    """AES-128 of one 16-byte block (ECB)."""
    _require_key(key)
    if len(block) != BLOCK_SIZE:
        raise ValueError("an AES block is 16 bytes")
    encryptor = Cipher(algorithms.AES(key), modes.ECB()).encryptor()
    return encryptor.update(block) + encryptor.finalize()


def aes_decrypt_block(key: bytes, block: bytes) -> bytes:
    """Inverse AES-128 of one 16-byte block (ECB)."""
    _require_key(key)
    if len(block) != BLOCK_SIZE:
        raise ValueError("an AES block is 16 bytes")
    decryptor = Cipher(algorithms.AES(key), modes.ECB()).decryptor()
    return decryptor.update(block) + decryptor.finalize()


def aes_cbc_encrypt(key: bytes, data: bytes, iv: bytes = ZERO_IV) -> bytes:
    """AES-128-CBC without padding (``data`` is a whole number of blocks)."""
    _require_key(key)
    if len(data) % BLOCK_SIZE:
        raise ValueError("AES-CBC data must be a multiple of 16 bytes")
    encryptor = Cipher(algorithms.AES(key), modes.CBC(iv)).encryptor()
    return encryptor.update(data) + encryptor.finalize()


def aes_cbc_decrypt(key: bytes, data: bytes, iv: bytes = ZERO_IV) -> bytes:
    """Inverse of :func:`aes_cbc_encrypt`."""
    _require_key(key)
    if len(data) % BLOCK_SIZE:
        raise CryptogramError("AES-CBC cryptogram must be a multiple of 16 bytes")
    decryptor = Cipher(algorithms.AES(key), modes.CBC(iv)).decryptor()
    return decryptor.update(data) + decryptor.finalize()


def aes_cmac(key: bytes, message: bytes) -> bytes:
    """The 16-byte AES-CMAC (NIST SP 800-38B) of ``message``."""
    _require_key(key)
    mac = CMAC(algorithms.AES(key))
    mac.update(message)
    return mac.finalize()


def cmac_subkeys(key: bytes) -> tuple[bytes, bytes]:
    """The CMAC subkeys (K1, K2) of ``key``, as AN10922 uses them.

    They are read back from the library's CMAC rather than derived again here: the CMAC of one zero
    block is AES(K1), and the CMAC of the empty message is AES(0x80 00.. XOR K2).
    """
    k1 = aes_decrypt_block(key, aes_cmac(key, bytes(BLOCK_SIZE)))
    k2 = _xor(aes_decrypt_block(key, aes_cmac(key, b"")), pad_iso9797_m2(b""))
    return k1, k2


def odd_bytes(mac: bytes) -> bytes:
    """Bytes 1, 3, ..., 15 of a 16-byte MAC: the 8 bytes DESFire EV2 and DAM keep."""
    if len(mac) != BLOCK_SIZE:
        raise ValueError("a full MAC is 16 bytes")
    return mac[1::2]


def pad_iso9797_m2(data: bytes, block_size: int = BLOCK_SIZE) -> bytes:
    """ISO/IEC 9797-1 padding method 2: 0x80 then zeros up to a block boundary, always added."""
    padded = data + b"\x80"
    return padded + bytes(-len(padded) % block_size)


def unpad_iso9797_m2(data: bytes) -> bytes:
    """Remove ISO/IEC 9797-1 method 2 padding, refusing data that does not carry it."""
    stripped = data.rstrip(b"\x00")
    if not stripped or stripped[-1] != 0x80 or len(data) - len(stripped) >= BLOCK_SIZE:
        raise CryptogramError("plaintext does not end with ISO/IEC 9797-1 method 2 padding")
    return stripped[:-1]


def diversify_aes128(base_key: bytes, diversification_input: bytes) -> bytes:
    """An AES-128 key diversified from ``base_key`` as NXP AN10922 describes (1..31 input bytes).

    M = 0x01 || input, padded with 0x80 00.. to exactly 32 bytes; the last block is XORed with K2
    if padding was added, else with K1; the last block of AES-CBC (zero IV) over M is the key.
    """
    _require_key(base_key, "base_key")
    if not 1 <= len(diversification_input) <= 31:
        raise ValueError("AN10922 AES-128 diversification input is 1 to 31 bytes")
    k1, k2 = cmac_subkeys(base_key)
    message = b"\x01" + diversification_input
    if len(message) < 2 * BLOCK_SIZE:
        message = (message + b"\x80").ljust(2 * BLOCK_SIZE, b"\x00")
        subkey = k2
    else:
        subkey = k1
    message = message[:BLOCK_SIZE] + _xor(message[BLOCK_SIZE:], subkey)
    return aes_cbc_encrypt(base_key, message)[-BLOCK_SIZE:]


def _require_byte(value: int, name: str) -> None:
    if not 0 <= value <= 0xFF:
        raise ValueError(f"{name} is one byte (0..255)")


def _require_u16(value: int, name: str) -> None:
    if not 0 <= value <= 0xFFFF:
        raise ValueError(f"{name} is two bytes (0..65535)")


_AKS_FIELDS = ("aks_version", "no_key_sets", "max_key_size", "app_key_set_settings")


@dataclass(frozen=True)
class DamApplication:
    """The delegated application a host asks the card to create (CreateDelegatedApplication)."""

    aid: bytes
    slot_no: int
    slot_version: int
    quota_limit: int
    key_settings_1: int
    key_settings_2: int
    key_settings_3: int | None = None
    aks_version: int | None = None
    no_key_sets: int | None = None
    max_key_size: int | None = None
    app_key_set_settings: int | None = None
    iso_file_id: int | None = None
    iso_df_name: bytes | None = None

    def __post_init__(self) -> None:
        if len(self.aid) != 3 or self.aid == PICC_AID:
            raise ValueError("an application AID is 3 bytes and not the PICC's 000000")
        _require_u16(self.slot_no, "slot_no")
        _require_byte(self.slot_version, "slot_version")
        _require_u16(self.quota_limit, "quota_limit")
        _require_byte(self.key_settings_1, "key_settings_1")
        _require_byte(self.key_settings_2, "key_settings_2")
        has_ks3 = bool(self.key_settings_2 & 0x10)
        if has_ks3 != (self.key_settings_3 is not None):
            raise ValueError("key_settings_3 is present exactly when key_settings_2 has bit 0x10")
        if self.key_settings_3 is not None:
            _require_byte(self.key_settings_3, "key_settings_3")
        has_aks = self.key_settings_3 is not None and bool(self.key_settings_3 & 0x01)
        for name in _AKS_FIELDS:
            value = getattr(self, name)
            if (value is not None) != has_aks:
                raise ValueError(f"{name} is present exactly when key_settings_3 has bit 0x01")
            if value is not None:
                _require_byte(value, name)
        has_fid = bool(self.key_settings_2 & 0x20)
        if has_fid != (self.iso_file_id is not None):
            raise ValueError("iso_file_id is present exactly when key_settings_2 has bit 0x20")
        if self.iso_file_id is not None:
            _require_u16(self.iso_file_id, "iso_file_id")
        if self.iso_df_name is not None and not 1 <= len(self.iso_df_name) <= 16:
            raise ValueError("iso_df_name is 1 to 16 bytes")
        if self.iso_df_name is not None and self.iso_file_id is None:
            raise ValueError("iso_df_name needs an iso_file_id")

    @property
    def default_key_size(self) -> int:
        """Size of the application's keys, so of its default key in EncK: 24 for 3TDEA, else 16."""
        return 24 if self.key_settings_2 & 0xC0 == 0x40 else AES_KEY_SIZE

    def app_data(self) -> bytes:
        """Command data: AID (LSB first), slot, version, quota, KS1, KS2 [KS3 [AKS]] [FID] [DF]."""
        data = bytearray(self.aid[::-1])
        data += self.slot_no.to_bytes(2, "little")
        data.append(self.slot_version)
        data += self.quota_limit.to_bytes(2, "little")
        data += bytes((self.key_settings_1, self.key_settings_2))
        if self.key_settings_3 is not None:
            data.append(self.key_settings_3)
            if self.key_settings_3 & 0x01:
                data += bytes(getattr(self, name) for name in _AKS_FIELDS)
        if self.iso_file_id is not None:
            data += self.iso_file_id.to_bytes(2, "little")
        if self.iso_df_name is not None:
            data += self.iso_df_name
        return bytes(data)

    @classmethod
    def from_app_data(cls, data: bytes) -> DamApplication:
        """Parse the command data of CreateDelegatedApplication (the card's side of app_data)."""
        if len(data) < 10:
            raise ValueError("CreateDelegatedApplication data is at least 10 bytes")
        fields: dict[str, object] = {
            "aid": bytes(data[0:3][::-1]),
            "slot_no": int.from_bytes(data[3:5], "little"),
            "slot_version": data[5],
            "quota_limit": int.from_bytes(data[6:8], "little"),
            "key_settings_1": data[8],
            "key_settings_2": data[9],
        }
        position = 10
        if data[9] & 0x10:
            if len(data) < position + 1:
                raise ValueError("key_settings_3 is missing")
            fields["key_settings_3"] = data[position]
            position += 1
            if data[position - 1] & 0x01:
                if len(data) < position + 4:
                    raise ValueError("the application key set fields are missing")
                fields.update(zip(_AKS_FIELDS, data[position : position + 4], strict=True))
                position += 4
        if data[9] & 0x20:
            if len(data) < position + 2:
                raise ValueError("the ISO file identifier is missing")
            fields["iso_file_id"] = int.from_bytes(data[position : position + 2], "little")
            position += 2
            if len(data) > position:
                fields["iso_df_name"] = bytes(data[position:])
                position = len(data)
        if position != len(data):
            raise ValueError("CreateDelegatedApplication data is longer than its settings allow")
        return cls(**fields)  # type: ignore[arg-type]


def enc_k(
    dam_enc_key: bytes, app_default_key: bytes, key_version: int, random7: bytes | None = None
) -> bytes:
    """EncK: AES-128-CBC (zero IV) under the card's DAM ENC key of the 32-byte key buffer.

    The buffer is Random(7) || K_AppDAMDefault || KeyVer || zeros: an AES or 2TDEA default key sits
    at [7..22] with its version at [23]; a 3TDEA key (24 bytes) at [7..30] with its version at [31].
    """
    _require_key(dam_enc_key, "dam_enc_key")
    _require_key(app_default_key, "app_default_key", (16, 24))
    _require_byte(key_version, "key_version")
    if random7 is None:
        random7 = secrets.token_bytes(7)
    if len(random7) != 7:
        raise ValueError("random7 is 7 bytes")
    buffer = (random7 + app_default_key + bytes((key_version,))).ljust(ENCK_SIZE, b"\x00")
    return aes_cbc_encrypt(dam_enc_key, buffer)


def open_enc_k(
    dam_enc_key: bytes, enck: bytes, *, key_size: int = AES_KEY_SIZE
) -> tuple[bytes, int]:
    """The card's side of :func:`enc_k`: (default key, key version); ``key_size`` 24 for 3TDEA."""
    if len(enck) != ENCK_SIZE:
        raise CryptogramError("EncK is 32 bytes")
    if key_size not in (16, 24):
        raise ValueError("key_size is 16 (AES, 2TDEA) or 24 (3TDEA)")
    buffer = aes_cbc_decrypt(dam_enc_key, enck)
    return buffer[7 : 7 + key_size], buffer[7 + key_size]


def dam_mac(dam_mac_key: bytes, application: DamApplication, enck: bytes) -> bytes:
    """DAMMAC: the odd bytes of AES-CMAC(DAM MAC key, C9 || AppData || EncK)."""
    _require_key(dam_mac_key, "dam_mac_key")
    if len(enck) != ENCK_SIZE:
        raise ValueError("EncK is 32 bytes")
    message = bytes((CREATE_DELEGATED_APPLICATION,)) + application.app_data() + enck
    return odd_bytes(aes_cmac(dam_mac_key, message))


def verify_dam_mac(
    dam_mac_key: bytes, application: DamApplication, enck: bytes, mac: bytes
) -> bool:
    """Whether ``mac`` is the DAMMAC of this application and EncK (compared in constant time)."""
    return hmac.compare_digest(dam_mac(dam_mac_key, application, enck), mac)


@dataclass(frozen=True)
class DamBaseKeys:
    """The home institution's three DAM base keys (kept like private keys; never in a repr)."""

    auth: bytes = field(repr=False)
    mac: bytes = field(repr=False)
    enc: bytes = field(repr=False)

    def __post_init__(self) -> None:
        for name in ("auth", "mac", "enc"):
            _require_key(getattr(self, name), name)

    @classmethod
    def generate(cls) -> DamBaseKeys:
        """Three fresh base keys from the operating system's CSPRNG."""
        return cls(
            auth=secrets.token_bytes(AES_KEY_SIZE),
            mac=secrets.token_bytes(AES_KEY_SIZE),
            enc=secrets.token_bytes(AES_KEY_SIZE),
        )


@dataclass(frozen=True)
class DamCardKeys:
    """The three DAM keys of one card: PICC keys 0x10 (auth), 0x11 (MAC), 0x12 (ENC)."""

    auth: bytes = field(repr=False)
    mac: bytes = field(repr=False)
    enc: bytes = field(repr=False)

    def __post_init__(self) -> None:
        for name in ("auth", "mac", "enc"):
            _require_key(getattr(self, name), name)


def _require_uid(uid: bytes) -> None:
    if len(uid) not in (4, 7, 10):
        raise ValueError("a card UID is 4, 7 or 10 bytes")


def diversify_dam_keys(base: DamBaseKeys, uid: bytes) -> DamCardKeys:
    """A card's DAM keys: AN10922 of each base key with UID || 000000 || key number."""
    _require_uid(uid)
    return DamCardKeys(
        auth=diversify_aes128(base.auth, uid + PICC_AID + bytes((DAM_AUTH_KEY_NO,))),
        mac=diversify_aes128(base.mac, uid + PICC_AID + bytes((DAM_MAC_KEY_NO,))),
        enc=diversify_aes128(base.enc, uid + PICC_AID + bytes((DAM_ENC_KEY_NO,))),
    )


def cdz_keys(base_key_1: bytes, base_key_2: bytes, escn: bytes, uid: bytes) -> tuple[bytes, bytes]:
    """Chip data zone keys 1 and 2: AN10922 with the ESCN (16 raw bytes) and with the UID."""
    if len(escn) != 16:
        raise ValueError("an ESCN is 16 raw bytes")
    _require_uid(uid)
    return diversify_aes128(base_key_1, escn), diversify_aes128(base_key_2, uid)


CDZ_AID_ON_WIRE = bytes.fromhex("4088F5")


def cdz_master_key(base_key_0: bytes, uid: bytes) -> bytes:
    """Chip data zone key 0 (the application's master key): AN10922 with UID || AID || 00."""
    _require_uid(uid)
    return diversify_aes128(base_key_0, uid + CDZ_AID_ON_WIRE + b"\x00")


def ev2_session_keys(key: bytes, rnd_a: bytes, rnd_b: bytes) -> tuple[bytes, bytes]:
    """(SesAuthENC, SesAuthMAC) after AuthenticateEV2First, as AN12343 derives them.

    SV = label || 0001 0080 || RndA[0..1] || (RndA[2..7] XOR RndB[0..5]) || RndB[6..15] ||
    RndA[8..15], label A55A for ENC and 5AA5 for MAC; each session key is CMAC(key, SV).
    """
    _require_key(key)
    if len(rnd_a) != BLOCK_SIZE or len(rnd_b) != BLOCK_SIZE:
        raise ValueError("RndA and RndB are 16 bytes")
    context = (
        b"\x00\x01\x00\x80" + rnd_a[0:2] + _xor(rnd_a[2:8], rnd_b[0:6]) + rnd_b[6:16] + rnd_a[8:16]
    )
    return (
        aes_cmac(key, _EV2_COMMAND_LABEL + context),
        aes_cmac(key, _EV2_RESPONSE_LABEL + context),
    )


def _require_ti_and_counter(ti: bytes, cmd_ctr: int) -> None:
    if len(ti) != 4:
        raise ValueError("the transaction identifier is 4 bytes")
    _require_u16(cmd_ctr, "cmd_ctr")


def ev2_command_mac(ses_mac: bytes, command: int, cmd_ctr: int, ti: bytes, data: bytes) -> bytes:
    """MACt of a command: odd bytes of CMAC(SesMAC, Cmd || CmdCtr(2 LE) || TI || data)."""
    _require_byte(command, "command")
    _require_ti_and_counter(ti, cmd_ctr)
    message = bytes((command,)) + cmd_ctr.to_bytes(2, "little") + ti + data
    return odd_bytes(aes_cmac(ses_mac, message))


def ev2_response_mac(ses_mac: bytes, status: int, cmd_ctr: int, ti: bytes, data: bytes) -> bytes:
    """MACt of a response: odd bytes of CMAC(SesMAC, RC || CmdCtr(2 LE) || TI || data).

    ``cmd_ctr`` is the counter already incremented for the command being answered.
    """
    return ev2_command_mac(ses_mac, status, cmd_ctr, ti, data)


def ev2_iv(ses_enc: bytes, ti: bytes, cmd_ctr: int, *, response: bool = False) -> bytes:
    """The IV of one EV2 cryptogram: AES(SesENC, A55A or 5AA5 || TI || CmdCtr(2 LE) || zeros)."""
    _require_ti_and_counter(ti, cmd_ctr)
    label = _EV2_RESPONSE_LABEL if response else _EV2_COMMAND_LABEL
    return aes_encrypt_block(ses_enc, label + ti + cmd_ctr.to_bytes(2, "little") + bytes(8))


def ev2_encrypt(
    ses_enc: bytes, ti: bytes, cmd_ctr: int, plaintext: bytes, *, response: bool = False
) -> bytes:
    """Encrypt command (or response) data in EV2 full mode: ISO 9797-1 M2 padding, AES-CBC."""
    iv = ev2_iv(ses_enc, ti, cmd_ctr, response=response)
    return aes_cbc_encrypt(ses_enc, pad_iso9797_m2(plaintext), iv)


def ev2_decrypt(
    ses_enc: bytes, ti: bytes, cmd_ctr: int, ciphertext: bytes, *, response: bool = False
) -> bytes:
    """Inverse of :func:`ev2_encrypt`; raises :class:`CryptogramError` on a malformed cryptogram."""
    if not ciphertext or len(ciphertext) % BLOCK_SIZE:
        raise CryptogramError("an EV2 cryptogram is a non-empty multiple of 16 bytes")
    iv = ev2_iv(ses_enc, ti, cmd_ctr, response=response)
    return unpad_iso9797_m2(aes_cbc_decrypt(ses_enc, ciphertext, iv))


def ev1_session_key(rnd_a: bytes, rnd_b: bytes) -> bytes:
    """The AES session key of the legacy AuthenticateAES (0xAA)."""
    if len(rnd_a) != BLOCK_SIZE or len(rnd_b) != BLOCK_SIZE:
        raise ValueError("RndA and RndB are 16 bytes")
    return rnd_a[0:4] + rnd_b[0:4] + rnd_a[12:16] + rnd_b[12:16]


def rotate_left(data: bytes, n: int = 1) -> bytes:
    """``data`` rotated left by ``n`` bytes (RndA' and RndB' of the authentication exchanges)."""
    if not data:
        return data
    n %= len(data)
    return data[n:] + data[:n]


def desfire_crc32(data: bytes) -> bytes:
    """The DESFire CRC32 (CRC-32 without the final complement), 4 bytes little-endian."""
    return (zlib.crc32(data) ^ 0xFFFFFFFF).to_bytes(4, "little")
