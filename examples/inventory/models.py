"""Domain objects for stock items and orders."""

from dataclasses import dataclass, field


@dataclass
class Item:
    sku: str
    name: str
    price: float
    tags: list = field(default_factory=list)


class Order:
    def __init__(self, customer, lines=[]):
        self.customer = customer
        self.lines = lines

    def add(self, item, quantity=1):
        self.lines.append((item, quantity))
        return self

    def total(self):
        if len(self.lines) == 0:
            return 0.0
        return sum(item.price * quantity for item, quantity in self.lines)

    def is_priority(self):
        if type(self.customer) == str:
            return False
        if self.customer.vip == True:
            return True
        return False
