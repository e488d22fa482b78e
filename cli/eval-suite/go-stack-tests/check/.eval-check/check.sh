# The tests in stack_test.go must pass on stack.go as committed, and fail on each mutant
# of it: the committed file with one small bug, made by a sed expression.
set -u
[ -f stack_test.go ] || { echo "stack_test.go does not exist"; exit 1; }
original=$(mktemp)
git show HEAD:stack.go > "$original" || exit 1
cp "$original" stack.go
go test ./... || { echo "the tests fail on the committed code"; exit 1; }
survived=0
while IFS='|' read -r name expression; do
    sed "$expression" "$original" > stack.go
    if cmp -s "$original" stack.go; then
        echo "the mutant $name changes nothing"; exit 2
    fi
    if go test ./... >/dev/null 2>&1; then
        echo "no test fails with $name broken"
        survived=$((survived + 1))
    fi
done <<'MUTANTS'
pop takes the first|s/top := s\.items\[len(s\.items)-1\]/top := s.items[0]/
pop keeps the top|s/s\.items = s\.items\[:len(s\.items)-1\]/s.items = s.items[:len(s.items)]/
peek takes the first|s/return s\.items\[len(s\.items)-1\], true/return s.items[0], true/
len counts capacity|s/return len(s\.items)$/return cap(s.items)/
pop on empty|/) Pop()/,/^}/s/return zero, false/return zero, true/
peek on empty|/) Peek()/,/^}/s/return zero, false/return zero, true/
MUTANTS
cp "$original" stack.go
[ "$survived" -eq 0 ]
