# The behaviour is unchanged (the tests), and the split of a line is written once, in
# `value_of`, which the three functions call.
set -u
cargo test --offline --quiet || exit 1
grep -q 'fn value_of' src/lib.rs || { echo "src/lib.rs has no fn value_of"; exit 1; }
splits=$(grep -c "split_once" src/lib.rs)
[ "$splits" -eq 1 ] || { echo "src/lib.rs splits a line in $splits places; 1 expected"; exit 1; }
calls=$(grep -v "fn value_of" src/lib.rs | grep -c "value_of(")
[ "$calls" -ge 3 ] || { echo "value_of is called $calls times; 3 expected"; exit 1; }
