"""MIFARE DESFire EV2: the card cryptography (``crypto``), importing nothing heavier than it."""
