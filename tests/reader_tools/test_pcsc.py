"""The card tools through the real PC/SC stack: pyscard, pcscd, vpcd and the simulated card."""

from __future__ import annotations

import threading

from reader_tools import iso7816, pcsc
from reader_tools.desfire.commands import Desfire
from reader_tools.simulator.state import CardState
from tests.reader_tools.pcsc_stack import CardSlot, PcscStack

h = bytes.fromhex
UID = h("04C0FFEE123456")


def test_pyscard_lists_the_virtual_reader_and_the_card_in_it(
    card_slot: CardSlot, pcsc_stack: PcscStack
) -> None:
    names = {r.name: r for r in pcsc.list_readers()}
    assert pcsc_stack.reader in names and not names[pcsc_stack.reader].card_present
    card_slot.insert(CardState.blank(UID))
    reader = {r.name: r for r in pcsc.list_readers()}[pcsc_stack.reader]
    assert reader.card_present and reader.atr == h("3B8180018080")


def test_the_card_monitor_tells_when_a_card_comes_and_goes(
    card_slot: CardSlot, pcsc_stack: PcscStack
) -> None:
    with pcsc.CardWatcher("Virtual PCD 00 00") as watcher:
        assert watcher.wait_for_card(0.3) is None
        threading.Timer(0.3, card_slot.insert, kwargs={"wait": False}).start()
        assert watcher.wait_for_card(10) == pcsc_stack.reader
        card_slot.remove(wait=False)
        assert watcher.wait_for_removal(10)


def test_desfire_commands_through_pcscd(card_slot: CardSlot) -> None:
    card_slot.insert(CardState.blank(UID))
    with pcsc.connect("Virtual PCD 00 00") as transport:
        assert iso7816.get_uid(transport) == UID
        desfire = Desfire(transport)
        assert desfire.get_version().generation == "EV2"
        desfire.authenticate_ev2_first(0, bytes(16))
        assert desfire.get_card_uid() == UID
        assert desfire.free_memory() == 7936
