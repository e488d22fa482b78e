# The tests in tests/duration.rs must pass on src/lib.rs as committed, and fail on each
# mutant of it: the committed file with one small bug, made by a sed expression.
set -u
[ -f tests/duration.rs ] || { echo "tests/duration.rs does not exist"; exit 1; }
tests=$(grep -c '#\[test\]' tests/duration.rs)
[ "$tests" -ge 3 ] || { echo "tests/duration.rs has $tests tests; at least 3 expected"; exit 1; }
original=$(mktemp)
git show HEAD:src/lib.rs > "$original" || exit 1
cp "$original" src/lib.rs
cargo test --offline --quiet --test duration || { echo "the tests fail on the committed code"; exit 1; }
survived=0
while IFS='|' read -r name expression; do
    sed "$expression" "$original" > src/lib.rs
    if cmp -s "$original" src/lib.rs; then
        echo "the mutant $name changes nothing"; exit 2
    fi
    if cargo test --offline --quiet --test duration >/dev/null 2>&1; then
        echo "no test fails with $name broken"
        survived=$((survived + 1))
    fi
done <<'MUTANTS'
hours|s/'h' => 60 \* 60,/'h' => 60,/
days|s/'d' => 24 \* 60 \* 60,/'d' => 60 * 60,/
combined|s/total += value \* seconds;/total = value * seconds;/
empty|s/return Err(DurationError::Empty);/return Ok(0);/
missing unit|s/return Err(DurationError::MissingUnit);/return Ok(total);/
missing number|s/number.take().ok_or(DurationError::MissingNumber)?/number.take().unwrap_or(0)/
unknown unit|s/other => return Err(DurationError::UnknownUnit(other)),/_ => 1,/
MUTANTS
cp "$original" src/lib.rs
[ "$survived" -eq 0 ]
