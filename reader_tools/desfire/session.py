"""An EV2 secure-messaging session (AN12343), the same object on the reader's and the card's side.

Both ends hold the session keys, the transaction identifier (TI) and the command counter; the
reader MACs and encrypts commands and checks answers, the card does the reverse. Commands use the
counter as it is; answers use it incremented, and the counter moves on once per command-answer pair.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass, field

from reader_tools.desfire import crypto

MAX_COMMAND_COUNTER = 0xFFFF


class SessionExhausted(Exception):
    """The command counter reached its limit: the reader must authenticate again."""


@dataclass
class Ev2Session:
    """The state of an authenticated EV2 session."""

    key_no: int
    ses_enc: bytes = field(repr=False)
    ses_mac: bytes = field(repr=False)
    ti: bytes
    cmd_ctr: int = 0

    @classmethod
    def establish(
        cls, key_no: int, key: bytes, rnd_a: bytes, rnd_b: bytes, ti: bytes
    ) -> Ev2Session:
        """The session both ends derive after AuthenticateEV2First."""
        ses_enc, ses_mac = crypto.ev2_session_keys(key, rnd_a, rnd_b)
        return cls(key_no=key_no, ses_enc=ses_enc, ses_mac=ses_mac, ti=ti)

    def command_mac(self, command: int, data: bytes) -> bytes:
        """MACt of a command whose header and (encrypted) data are ``data``."""
        return crypto.ev2_command_mac(self.ses_mac, command, self.cmd_ctr, self.ti, data)

    def response_mac(self, status: int, data: bytes) -> bytes:
        """MACt of an answer (computed with the counter of the next command)."""
        return crypto.ev2_response_mac(self.ses_mac, status, self._next_counter(), self.ti, data)

    def command_mac_matches(self, command: int, data: bytes, mac: bytes) -> bool:
        """Whether ``mac`` is this command's MACt (constant-time comparison)."""
        return hmac.compare_digest(self.command_mac(command, data), mac)

    def response_mac_matches(self, status: int, data: bytes, mac: bytes) -> bool:
        """Whether ``mac`` is this answer's MACt (constant-time comparison)."""
        return hmac.compare_digest(self.response_mac(status, data), mac)

    def encrypt_command(self, plaintext: bytes) -> bytes:
        """Encrypt command data (full mode)."""
        return crypto.ev2_encrypt(self.ses_enc, self.ti, self.cmd_ctr, plaintext)

    def decrypt_command(self, ciphertext: bytes) -> bytes:
        """Decrypt command data (the card's side of full mode)."""
        return crypto.ev2_decrypt(self.ses_enc, self.ti, self.cmd_ctr, ciphertext)

    def encrypt_response(self, plaintext: bytes) -> bytes:
        """Encrypt answer data (the card's side of full mode)."""
        return crypto.ev2_encrypt(
            self.ses_enc, self.ti, self._next_counter(), plaintext, response=True
        )

    def decrypt_response(self, ciphertext: bytes) -> bytes:
        """Decrypt answer data (full mode)."""
        return crypto.ev2_decrypt(
            self.ses_enc, self.ti, self._next_counter(), ciphertext, response=True
        )

    def advance(self) -> None:
        """Count one completed command-answer pair."""
        self.cmd_ctr = self._next_counter()

    def _next_counter(self) -> int:
        if self.cmd_ctr >= MAX_COMMAND_COUNTER:
            raise SessionExhausted("the EV2 command counter is exhausted; authenticate again")
        return self.cmd_ctr + 1
