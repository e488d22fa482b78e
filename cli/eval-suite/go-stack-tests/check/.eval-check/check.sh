# The tests in stack_test.go must pass on the original stack.go and fail on each
# mutant: a copy of it with one small bug.
set -u
[ -f stack_test.go ] || { echo "stack_test.go does not exist"; exit 1; }
cp .eval-check/stack.go.orig stack.go
go test ./... || { echo "the tests fail on the original code"; exit 1; }
survived=0
for mutant in .eval-check/mutants/*.go.txt; do
    cp "$mutant" stack.go
    if go test ./... >/dev/null 2>&1; then
        echo "no test fails with $(basename "$mutant" .go.txt) broken"
        survived=$((survived + 1))
    fi
done
cp .eval-check/stack.go.orig stack.go
[ "$survived" -eq 0 ]
