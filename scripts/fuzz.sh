#!/usr/bin/env bash
# Runs every Fuzz target in the module for $FUZZTIME each (seed corpus first,
# then new inputs). go test -fuzz takes one target per run, hence the loop.
# The budget is a count of executions ("10000x"), not a duration: with a
# duration, Go 1.26's fuzz coordinator can report a spurious "context
# deadline exceeded" failure at the deadline on a loaded machine
# (go.dev/issue/75804, fixed in Go 1.27); a count has no deadline to race.
set -euo pipefail
cd "$(dirname "$0")/.."
FUZZTIME=${FUZZTIME:-10000x}
fail=0
count=0
failed=0
while IFS= read -r file; do
	dir=$(dirname "$file")
	for name in $(grep -oE '^func (Fuzz[A-Za-z0-9_]+)\(' "$file" | sed -E 's/^func (Fuzz[A-Za-z0-9_]+)\(/\1/'); do
		count=$((count + 1))
		budget=$FUZZTIME
		# FuzzServer sends each input to a live server over UDP and TCP and
		# waits for an OPTIONS answer: ~50 execs/s, so a smaller count.
		if [[ $name == FuzzServer ]]; then budget=${FUZZTIME_SERVER:-500x}; fi
		echo "fuzz: ./$dir $name ($budget)"
		if ! go test -run='^$' -fuzz="^${name}\$" -fuzztime="$budget" "./$dir" >"/tmp/hotline-fuzz-$name.log" 2>&1; then
			echo "FAIL fuzz ./$dir $name"; tail -40 "/tmp/hotline-fuzz-$name.log"; fail=1; failed=$((failed + 1))
		fi
	done
done < <(git ls-files '*_test.go' ':!third_party' | xargs grep -l '^func Fuzz' | sort)
echo "fuzz: $((count - failed)) passed, $failed failed"
exit $fail
