"""Splitting work into batches of a fixed size."""


def chunks(items, size):
    """The items in lists of `size`, in order."""
    result = []
    start = 0
    while start + size <= len(items):
        result.append(list(items[start:start + size]))
        start += size
    return result
