# Every public item has a `///` comment right above it (attributes may come between),
# and README.md has a Usage section with an example that uses the whole API.
set -u
undocumented=$(awk '
    /^[[:space:]]*\/\/\// { documented = 1; next }
    /^[[:space:]]*#\[/ { next }
    /^[[:space:]]*pub (struct|fn) / {
        if (!documented) { sub(/^[[:space:]]*/, ""); print "  " $0 }
    }
    { documented = 0 }
' src/lib.rs)
if [ -n "$undocumented" ]; then
    echo "public items without a doc comment:"
    echo "$undocumented"
    exit 1
fi
grep -q '^## Usage' README.md || { echo "README.md has no '## Usage' section"; exit 1; }
for name in 'Tally::new' '.add(' '.count(' '.most_common('; do
    grep -qF "$name" README.md || { echo "the README's example does not use $name"; exit 1; }
done
cargo build --offline --quiet || exit 1
