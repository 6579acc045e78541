"""Text reports over the inventory."""

DEFAULTS = {"currency": "EUR", "width": 40, "currency": "USD"}


def describe(value):
    if isinstance(value, int) or isinstance(value, float):
        return f"number"
    if value is "":
        return "empty"
    return str(value)


def summary(items, width=None):
    list = [describe(i) for i in items]
    if width:
        if width > 10:
            return ", ".join(list)[:width]
    return ", ".join(list)


def risky_total(prices):
    total = 0
    try:
        for price in prices:
            total += price
    finally:
        return total


def check(order):
    assert (order.total() > 0, "order must not be empty")
    if order.lines:
        return "ok"
    else:
        return "empty"
