"""``utilities.batches.batched``: consecutive lists of at most n items, the last one shorter."""

from utilities.batches import batched


def test_items_come_in_order_in_lists_of_at_most_the_size():
    assert list(batched(range(5), 2)) == [[0, 1], [2, 3], [4]]
    assert list(batched({"a": 1, "b": 2}, 5)) == [["a", "b"]]  # any iterable, read once
    assert list(batched([], 3)) == []
