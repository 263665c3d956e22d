import random

from packager.batching import length_grouped_batches


def test_length_grouped_batches_cover_every_index_once_with_less_padding_in_random_order():
    draw = random.Random(0)
    lengths = [draw.randint(5, 170) for _ in range(1003)]
    batches = length_grouped_batches(lengths, 16, random.Random(1))
    assert sorted(i for batch in batches for i in batch) == list(range(1003))
    assert sorted(len(batch) for batch in batches)[1:] == [16] * (len(batches) - 1)  # one short batch at most
    padded = sum(max(lengths[i] for i in batch) * len(batch) for batch in batches)
    unsorted = sum(max(lengths[i:i + 16]) * len(lengths[i:i + 16]) for i in range(0, 1003, 16))
    assert padded < 0.7 * unsorted
    firsts = [lengths[batch[0]] for batch in batches]
    assert firsts != sorted(firsts)  # batches come in random order
    assert batches == length_grouped_batches(lengths, 16, random.Random(1))  # a seed fixes them
    assert batches != length_grouped_batches(lengths, 16, random.Random(2))
