#!/usr/bin/env bash
# Regenerates prompts/<lang>/<name>.wav from prompts/prompts.txt (`make prompts`).
#
# Each line of the list is lang<TAB>name<TAB>text. The text is spoken with
# espeak-ng (voice = lang, or the voice named by an inline "[xx] " marker),
# then sox turns it into what Hotline loads: 8 kHz, mono, 16-bit signed PCM
# WAV, high-passed, leading/trailing silence trimmed to a short pad, peak
# normalised to -3 dBFS. "@hold-music" is synthesised with sox instead;
# "@silence" is 0.3 s of silence.
# Output is deterministic (no dither), so unchanged prompts give unchanged
# files and git shows only real changes.
#
# Usage: scripts/prompts.sh [LIST [OUTDIR]]   (defaults: prompts/prompts.txt prompts)
# Files under OUTDIR/<lang>/ whose name is not in the list are removed.
set -euo pipefail
cd "$(dirname "$0")/.."

list=${1:-prompts/prompts.txt}
out=${2:-prompts}
rate=${ESPEAK_RATE:-150} # words per minute; a little slower than espeak's 175 for the phone

for tool in espeak-ng sox; do
	command -v "$tool" >/dev/null || { echo "prompts: $tool not found (apt-get install espeak-ng sox)" >&2; exit 1; }
done
[[ -f $list ]] || { echo "prompts: $list: no such file" >&2; exit 1; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# speak VOICE TEXT OUTFILE: one espeak-ng segment at its native rate (22050 Hz mono).
speak() {
	printf '%s' "$2" | espeak-ng -b 1 -v "$1" -s "$rate" -w "$3"
}

# synth_music OUTFILE: a soft ~10 s loop, C - Am - F - G, a plucked arpeggio over a
# quiet sine pad. Starts and ends near silence so it loops without a click.
synth_music() {
	local dest=$1 dir=$tmp/music i=0 chord notes pad note
	mkdir -p "$dir"
	local chords=(
		"C4 E4 G4 E5|C3 E3 G3"
		"A3 C4 E4 C5|A2 C3 E3"
		"F3 A3 C4 A4|F2 A2 C3"
		"G3 B3 D4 B4|G2 B2 D3"
	)
	local parts=()
	for chord in "${chords[@]}"; do
		notes=${chord%%|*} pad=${chord##*|}
		local arp=()
		for note in $notes; do
			sox -D -n -r 8000 -c 1 -b 16 "$dir/n$i.wav" synth 0.625 pluck "$note" fade 0 0.625 0.25 vol 0.5
			arp+=("$dir/n$i.wav")
			i=$((i + 1))
		done
		sox -D "${arp[@]}" "$dir/arp$i.wav"
		local tones=()
		for note in $pad; do
			sox -D -n -r 8000 -c 1 -b 16 "$dir/s$i-$note.wav" synth 2.5 sine "$note"
			tones+=("$dir/s$i-$note.wav")
		done
		sox -D -m "${tones[@]}" "$dir/pad$i.wav" fade t 0.4 2.5 0.4 vol 0.3
		sox -D -m "$dir/arp$i.wav" "$dir/pad$i.wav" "$dir/chord$i.wav"
		parts+=("$dir/chord$i.wav")
	done
	sox -D "${parts[@]}" -r 8000 -c 1 -b 16 -e signed-integer "$dest" fade t 0.05 0 0.3 norm -6
}

# render LANG TEXT OUTFILE: split TEXT on "[xx] " voice markers, speak each
# segment, join with 0.3 s pauses, convert to the prompt format.
render() {
	local lang=$1 text=$2 dest=$3 voice=$1 k=0 seg
	local segs=()
	# Put each marker on its own line: "a [vi] b" -> "a\n[vi]\nb".
	while IFS= read -r seg; do
		[[ -z ${seg// /} ]] && continue
		if [[ $seg =~ ^\[([a-z]{2,3}(-[a-z0-9-]+)?)\]$ ]]; then
			voice=${BASH_REMATCH[1]}
			continue
		fi
		speak "$voice" "$seg" "$tmp/seg$k.wav"
		segs+=("$tmp/seg$k.wav")
		k=$((k + 1))
	done < <(printf '%s\n' "$text" | sed -E 's/[[:space:]]*(\[[a-z]{2,3}(-[a-z0-9-]+)?\])[[:space:]]*/\n\1\n/g')
	((${#segs[@]})) || { echo "prompts: $lang/$(basename "$dest" .wav): empty text" >&2; exit 1; }
	local joined=("${segs[0]}")
	if ((${#segs[@]} > 1)); then
		sox -D -n -r 22050 -c 1 -b 16 "$tmp/pause.wav" trim 0 0.3
		for seg in "${segs[@]:1}"; do joined+=("$tmp/pause.wav" "$seg"); done
	fi
	sox -D "${joined[@]}" -r 8000 -c 1 -b 16 -e signed-integer "$dest" \
		gain -6 highpass 80 \
		silence 1 0.02 0.5% reverse silence 1 0.02 0.5% reverse \
		norm -3 pad 0.05 0.1
	rm -f "$tmp"/seg*.wav
}

declare -A seen=()   # lang/name -> 1
declare -A names=()  # name -> langs that have it
declare -A langs=()
n=0
lineno=0
while IFS= read -r line || [[ -n $line ]]; do
	lineno=$((lineno + 1))
	line=${line%$'\r'}
	[[ -z $line || $line == \#* ]] && continue
	IFS=$'\t' read -r lang name text extra <<<"$line"
	if [[ -z ${lang:-} || -z ${name:-} || -z ${text:-} || -n ${extra:-} ]]; then
		echo "prompts: $list:$lineno: want lang<TAB>name<TAB>text" >&2; exit 1
	fi
	[[ $lang =~ ^[a-z]{2,3}$ ]] || { echo "prompts: $list:$lineno: bad language \"$lang\"" >&2; exit 1; }
	[[ $name =~ ^[a-z0-9][a-z0-9-]*$ ]] || { echo "prompts: $list:$lineno: bad prompt name \"$name\" (a-z, 0-9, -)" >&2; exit 1; }
	[[ -z ${seen[$lang/$name]:-} ]] || { echo "prompts: $list:$lineno: $lang/$name listed twice" >&2; exit 1; }
	seen[$lang/$name]=1
	names[$name]+="$lang "
	langs[$lang]=1
	mkdir -p "$tmp/out/$lang"
	if [[ $text == "@hold-music" ]]; then
		synth_music "$tmp/out/$lang/$name.wav"
	elif [[ $text == "@silence" ]]; then
		sox -D -n -r 8000 -c 1 -b 16 -e signed-integer "$tmp/out/$lang/$name.wav" trim 0 0.3
	else
		render "$lang" "$text" "$tmp/out/$lang/$name.wav"
	fi
	n=$((n + 1))
done <"$list"

# Same names in every language: a flow declaring both must find each prompt in both.
bad=0
for name in "${!names[@]}"; do
	for lang in "${!langs[@]}"; do
		[[ -n ${seen[$lang/$name]:-} ]] || { echo "prompts: $name is missing for language $lang" >&2; bad=1; }
	done
done
((bad == 0)) || exit 1

for lang in "${!langs[@]}"; do
	mkdir -p "$out/$lang"
	find "$out/$lang" -maxdepth 1 -name '*.wav' -delete
	cp "$tmp/out/$lang/"*.wav "$out/$lang/"
done
total=$(du -ch "$out"/*/*.wav | tail -1 | cut -f1)
echo "prompts: wrote $n files for languages: ${!langs[*]} ($total)"
