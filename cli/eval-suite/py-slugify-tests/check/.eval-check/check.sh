# The tests in tests/test_slugs.py must pass on slugs.py as committed, and fail on each
# mutant of it: the committed file with one small bug, made by a sed expression.
set -u
[ -f tests/test_slugs.py ] || { echo "tests/test_slugs.py does not exist"; exit 1; }
run() { python3 -m unittest discover --start-directory tests --top-level-directory . --pattern test_slugs.py; }
original=$(mktemp)
git show HEAD:slugs.py > "$original" || exit 1
cp "$original" slugs.py
run || { echo "the tests fail on the committed code"; exit 1; }
survived=0
while IFS='|' read -r name expression; do
    sed "$expression" "$original" > slugs.py
    if cmp -s "$original" slugs.py; then
        echo "the mutant $name changes nothing"; exit 2
    fi
    if run >/dev/null 2>&1; then
        echo "no test fails with $name broken"
        survived=$((survived + 1))
    fi
done <<'MUTANTS'
case|s/ascii_text\.lower()/ascii_text/
runs|s/r"\[^a-z0-9\]+"/r"[^a-z0-9]"/
accents|s/encode("ascii", "ignore")/encode("ascii", "replace")/
trim|s/\.strip("-")//
length|s/if len(slug) <= max_length:/if True:/
word cut|s/return cut\[: cut\.rindex("-")\]/return slug[:max_length]/
MUTANTS
cp "$original" slugs.py
[ "$survived" -eq 0 ]
