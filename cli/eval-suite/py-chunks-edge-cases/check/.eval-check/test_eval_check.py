import signal
import unittest

from batching import chunks


def _too_slow(signum, frame):
    raise TimeoutError("chunks did not return within 5 seconds")


class HiddenChunksTest(unittest.TestCase):
    def setUp(self):
        # A size of 0 used to loop forever: fail the test instead of the whole check.
        signal.signal(signal.SIGALRM, _too_slow)
        signal.alarm(5)

    def tearDown(self):
        signal.alarm(0)

    def test_last_chunk_is_kept(self):
        self.assertEqual(chunks([1, 2, 3], 2), [[1, 2], [3]])
        self.assertEqual(chunks("abcde", 2), [["a", "b"], ["c", "d"], ["e"]])

    def test_size_larger_than_items(self):
        self.assertEqual(chunks([1, 2], 5), [[1, 2]])

    def test_sizes_below_one_are_refused(self):
        for size in (0, -1):
            with self.assertRaises(ValueError):
                chunks([1, 2, 3], size)

    def test_even_split_and_empty_are_unchanged(self):
        self.assertEqual(chunks([1, 2, 3, 4], 2), [[1, 2], [3, 4]])
        self.assertEqual(chunks([], 3), [])
