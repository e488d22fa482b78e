# The tests in tests/test_slugs.py must pass on the original slugs.py and fail on each
# mutant: a copy of it with one small bug.
set -u
[ -f tests/test_slugs.py ] || { echo "tests/test_slugs.py does not exist"; exit 1; }
run() { python3 -m unittest discover --start-directory tests --top-level-directory . --pattern test_slugs.py; }
cp .eval-check/slugs.py slugs.py
run || { echo "the tests fail on the original code"; exit 1; }
survived=0
for mutant in .eval-check/mutants/*.py; do
    cp "$mutant" slugs.py
    if run >/dev/null 2>&1; then
        echo "no test fails with $(basename "$mutant" .py) broken"
        survived=$((survived + 1))
    fi
done
cp .eval-check/slugs.py slugs.py
[ "$survived" -eq 0 ]
