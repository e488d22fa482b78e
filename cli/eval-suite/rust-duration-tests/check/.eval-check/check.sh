# The tests in tests/duration.rs must pass on the original src/lib.rs and fail on
# each mutant: a copy of it with one small bug.
set -u
[ -f tests/duration.rs ] || { echo "tests/duration.rs does not exist"; exit 1; }
tests=$(grep -c '#\[test\]' tests/duration.rs)
[ "$tests" -ge 3 ] || { echo "tests/duration.rs has $tests tests; at least 3 expected"; exit 1; }
cp .eval-check/lib.rs src/lib.rs
cargo test --offline --quiet --test duration || { echo "the tests fail on the original code"; exit 1; }
survived=0
for mutant in .eval-check/mutants/*.rs; do
    cp "$mutant" src/lib.rs
    if cargo test --offline --quiet --test duration >/dev/null 2>&1; then
        echo "no test fails with $(basename "$mutant" .rs) broken"
        survived=$((survived + 1))
    fi
done
cp .eval-check/lib.rs src/lib.rs
[ "$survived" -eq 0 ]
