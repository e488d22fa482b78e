import unittest

from batching import chunks


class ChunksTest(unittest.TestCase):
    def test_even_split(self):
        self.assertEqual(chunks([1, 2, 3, 4], 2), [[1, 2], [3, 4]])

    def test_empty(self):
        self.assertEqual(chunks([], 3), [])


if __name__ == "__main__":
    unittest.main()
