#!/usr/bin/env bash
# Runs every Fuzz target in the module for $FUZZTIME each (seed corpus first,
# then new inputs). go test -fuzz takes one target per run, hence the loop.
set -euo pipefail
cd "$(dirname "$0")/.."
FUZZTIME=${FUZZTIME:-3s}
fail=0
count=0
failed=0
while IFS= read -r file; do
	dir=$(dirname "$file")
	for name in $(grep -oE '^func (Fuzz[A-Za-z0-9_]+)\(' "$file" | sed -E 's/^func (Fuzz[A-Za-z0-9_]+)\(/\1/'); do
		count=$((count + 1))
		echo "fuzz: ./$dir $name ($FUZZTIME)"
		if ! go test -run='^$' -fuzz="^${name}\$" -fuzztime="$FUZZTIME" "./$dir" >"/tmp/hotline-fuzz-$name.log" 2>&1; then
			echo "FAIL fuzz ./$dir $name"; tail -40 "/tmp/hotline-fuzz-$name.log"; fail=1; failed=$((failed + 1))
		fi
	done
done < <(git ls-files '*_test.go' | xargs grep -l '^func Fuzz' | sort)
echo "fuzz: $((count - failed)) passed, $failed failed"
exit $fail
