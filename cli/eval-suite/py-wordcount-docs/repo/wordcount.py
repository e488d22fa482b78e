"""Counts the lines, words and characters of text files, like a small `wc`."""

import argparse
import sys


def counts(text):
    return len(text.splitlines()), len(text.split()), len(text)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("files", nargs="*", help="files to count; standard input without any")
    parser.add_argument("-l", "--lines", action="store_true", help="print only the line counts")
    parser.add_argument("-w", "--words", action="store_true", help="print only the word counts")
    parser.add_argument("-c", "--chars", action="store_true", help="print only the character counts")
    parser.add_argument("--total", action="store_true", help="print one more line with the sums")
    parser.add_argument("--encoding", default="utf-8", help="how the files are encoded")
    args = parser.parse_args(argv)
    wanted = [args.lines, args.words, args.chars]
    if not any(wanted):
        wanted = [True, True, True]
    sums = [0, 0, 0]
    sources = args.files or ["-"]
    for name in sources:
        if name == "-":
            text = sys.stdin.read()
        else:
            with open(name, encoding=args.encoding) as file:
                text = file.read()
        numbers = counts(text)
        sums = [a + b for a, b in zip(sums, numbers)]
        shown = [str(n) for n, keep in zip(numbers, wanted) if keep]
        print(" ".join(shown), name)
    if args.total:
        shown = [str(n) for n, keep in zip(sums, wanted) if keep]
        print(" ".join(shown), "total")


if __name__ == "__main__":
    main()
