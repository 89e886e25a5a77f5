"""A simulated MIFARE DESFire EV2 card, and the vpcd client that puts it in a virtual reader."""
