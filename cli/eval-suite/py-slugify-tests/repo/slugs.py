"""URL slugs from titles."""

import re
import unicodedata


def slugify(title, max_length=60):
    """`Crème brûlée, done right!` -> `creme-brulee-done-right`.

    Accents are dropped, everything but letters and digits becomes a hyphen, runs of
    hyphens become one, and none is left at either end. A slug longer than `max_length`
    is cut at its last hyphen that fits, so no word is cut in half (a single word longer
    than that is cut at `max_length`).
    """
    ascii_text = (
        unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode("ascii")
    )
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")
    if len(slug) <= max_length:
        return slug
    cut = slug[: max_length + 1]
    if "-" in cut:
        return cut[: cut.rindex("-")]
    return slug[:max_length]
