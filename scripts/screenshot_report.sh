#!/usr/bin/env bash
# Screenshot a `genoattn report` HTML file in headless Chromium (Debian: apt-get install chromium).
# Usage: scripts/screenshot_report.sh report.html shot.png [WIDTH,HEIGHT]
# The page is opened from disk with the network disabled, so a report that needed any remote
# resource would show it missing in the screenshot.
set -euo pipefail
html=${1:?usage: screenshot_report.sh REPORT.html OUT.png [W,H]}
png=${2:?usage: screenshot_report.sh REPORT.html OUT.png [W,H]}
size=${3:-1200,2000}
browser=$(command -v chromium || command -v chromium-browser || command -v google-chrome || true)
if [ -z "$browser" ]; then
  echo "error: no chromium found (apt-get install -y chromium)" >&2
  exit 2
fi
url="file://$(realpath "$html")"
out="$(realpath -m "$png")"
profile=$(mktemp -d)
trap 'rm -rf "$profile"' EXIT
"$browser" --headless --no-sandbox --disable-gpu --hide-scrollbars \
  --user-data-dir="$profile" --proxy-server="http://0.0.0.0:1" --proxy-bypass-list="<-loopback>" \
  --window-size="$size" --screenshot="$out" "$url" 2>/dev/null
test -s "$out" && echo "wrote $out"
