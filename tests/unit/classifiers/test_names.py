"""Entities from table names and events: the words leader inference compares."""

from __future__ import annotations

import pytest

from seamscope.classifiers.names import entity, event_words, words


@pytest.mark.parametrize(
    ("table", "system", "entity_words", "dropped"),
    [
        ("Orders", None, ("order",), "the plural"),
        ("orders-orders", "orders", ("order",), "the system prefix orders"),
        ("prod-orders", "orders", ("order",), "the stage prod"),
        ("OrdersStack-OrdersTable-1A2B3C4D", "orders", ("order",), "the generated suffix 1A2B3C4D"),
        ("OrdersStack-OrdersTable-1A2B3C4D", None, ("order",), "Stack, Table"),
        ("orders-checkouts", "orders", ("checkout",), "the system prefix orders"),
        ("prod-billing-invoices", "billing", ("invoice",), "the stage prod"),
        ("BillingAccounts", "billing", ("account",), "the system prefix billing"),
        ("orders-v2", None, ("order",), "v2"),
        ("inventory-items-a1b2c3d4e5", None, ("inventory", "item"), "the generated suffix"),
        ("Table7", None, ("table",), None),
        ("Inventory", "inventory", ("inventory",), None),
    ],
)
def test_a_table_names_its_entity_and_says_how(
    table: str, system: str | None, entity_words: tuple[str, ...], dropped: str | None
) -> None:
    found = entity(table, system)
    assert found.words == entity_words
    if dropped is None:
        assert found.how == "the name itself"
    else:
        assert dropped in found.how


def test_events_are_about_their_detail_type_and_source() -> None:
    said = event_words("com.acme.orders", "OrderShipped")
    assert {"order", "shipped", "acme"} <= said
    assert entity("OrdersStack-OrdersTable-1A2B3C4D", "orders").about(said)
    assert not entity("orders-order-views", "orders").about(event_words("x", "OrderPlaced"))
    assert words("HTTPServerError") == ("http", "server", "error")
