"""The home's DAM authorisation opens on its own card, for its own application and slot, only."""

from __future__ import annotations

import dataclasses

from hypothesis import given, settings
from hypothesis import strategies as st

from reader_tools.desfire.crypto import DamBaseKeys, diversify_dam_keys, open_enc_k, verify_dam_mac
from sgc_client.delegation.dam import authorise, dam_application
from sgc_client.protocol.delegation import Application

BASE = DamBaseKeys.generate()
APP = Application(aid="F58542", slot_version=0, quota_limit=16, key_settings_1=0x0B,
                  key_settings_2=0xA3, iso_file_id=0x1000, iso_df_name="A00000061404F58542",
                  name="Paris payment")
uids = st.sampled_from([4, 7]).flatmap(lambda n: st.binary(min_size=n, max_size=n)).map(
    lambda b: b.hex().upper()
)


@settings(max_examples=40, deadline=None)
@given(
    uid=uids,
    other_uid=uids,
    slot=st.integers(0, 15),
    other_slot=st.integers(0, 15),
    quota=st.integers(0, 0xFFFF),
    other_quota=st.integers(0, 0xFFFF),
    aid=st.sampled_from(["F58542", "F58543", "123456"]),
    key=st.binary(min_size=16, max_size=16),
    version=st.integers(0, 255),
)
def test_an_authorisation_opens_only_for_its_card_application_slot_and_quota(
    uid: str,
    other_uid: str,
    slot: int,
    other_slot: int,
    quota: int,
    other_quota: int,
    aid: str,
    key: bytes,
    version: int,
) -> None:
    app = dataclasses.replace(APP, quota_limit=quota)
    made = authorise(BASE, uid, app, slot, 0, key, version)
    card = diversify_dam_keys(BASE, bytes.fromhex(uid))
    enck, mac = bytes.fromhex(made.dam.enck), bytes.fromhex(made.dam.dam_mac)
    assert made.dam_auth_key == card.auth
    assert open_enc_k(card.enc, enck) == (key, version)
    assert verify_dam_mac(card.mac, dam_application(app, slot, 0), enck, mac)
    if other_uid != uid:
        other_card = diversify_dam_keys(BASE, bytes.fromhex(other_uid))
        assert not verify_dam_mac(other_card.mac, dam_application(app, slot, 0), enck, mac)
        assert open_enc_k(other_card.enc, enck) != (key, version)
    if other_slot != slot:
        assert not verify_dam_mac(card.mac, dam_application(app, other_slot, 0), enck, mac)
    if other_quota != quota:
        changed = dataclasses.replace(app, quota_limit=other_quota)
        assert not verify_dam_mac(card.mac, dam_application(changed, slot, 0), enck, mac)
    if aid != app.aid:
        changed = dataclasses.replace(app, aid=aid)
        assert not verify_dam_mac(card.mac, dam_application(changed, slot, 0), enck, mac)


def test_another_homes_base_keys_give_another_card_key() -> None:
    made = authorise(BASE, "04A1B2C3D4E5F6", APP, 0, 0, bytes(16), 0)
    stranger = diversify_dam_keys(DamBaseKeys.generate(), bytes.fromhex("04A1B2C3D4E5F6"))
    assert made.dam_auth_key != stranger.auth
    assert not verify_dam_mac(stranger.mac, dam_application(APP, 0, 0),
                              bytes.fromhex(made.dam.enck), bytes.fromhex(made.dam.dam_mac))
