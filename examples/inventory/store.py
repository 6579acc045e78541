"""Loading and saving the inventory as JSON."""

import json
import logging

log = logging.getLogger(__name__)


def load(path, cache: dict = {}):
    if path in cache.keys():
        return cache[path]
    f = open(path)
    try:
        data = json.load(f)
    except:
        data = {}
    cache[path] = data
    return data


def save(path, data):
    try:
        with open(path, "w") as handle:
            json.dump(data, handle)
    except Exception:
        pass


def find(data: dict, sku):
    for key in data.keys():
        if key == sku:
            return data[key]
    return None


def parse_quantity(raw):
    try:
        return int(raw)
    except ValueError as err:
        raise RuntimeError(f"bad quantity: {raw!r}")


def lookup(data, sku):
    item = find(data, sku)
    if item == None:
        raise KeyError(sku)
        log.warning("missing %s", sku)
    return item
