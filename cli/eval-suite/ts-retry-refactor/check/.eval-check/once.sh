# The retry loop is written once.
loops=$(grep -c "attempt++" src/loaders.ts)
[ "$loops" -eq 1 ] || { echo "src/loaders.ts has $loops retry loops; 1 expected"; exit 1; }
