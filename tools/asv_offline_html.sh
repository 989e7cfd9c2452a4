#!/usr/bin/env bash
# Make asv's dashboard work in a browser without internet access.
#
# Usage (after `asv publish`, before `asv preview`):
#   tools/asv_offline_html.sh [HTML_DIR]        # default: .asv/html
#
# asv 0.6's index.html loads jQuery 3.3.1, flot 0.8.3 (+ its time,
# selection, categories and orderBars plugins), Bootstrap 3, stupidtable and
# blueimp-md5 from public CDNs; with no internet the page only says "Can not
# determine continental origin of swallow".  asv 0.5.1 shipped the same
# libraries in its sdist (asv/www/vendor/), so this script takes them from
# that sdist, copies them to HTML_DIR/vendor/ and points index.html at the
# local copies.  Run it again after every `asv publish` (which rewrites
# index.html).
#
# What it needs: on first use, PyPI (it runs `pip download asv==0.5.1`, the
# sdist only, into ${XDG_CACHE_HOME:-~/.cache}/vgcore/ and reuses that file
# afterwards, so later runs work offline); tar; and a Python with pip
# ($PYTHON, default python3).
set -euo pipefail

html=${1:-.asv/html}
[ -f "$html/index.html" ] || { echo "no $html/index.html: run 'asv publish' first" >&2; exit 1; }
python=${PYTHON:-python3}
cache=${XDG_CACHE_HOME:-$HOME/.cache}/vgcore
sdist="$cache/asv-0.5.1.tar.gz"

if [ ! -f "$sdist" ]; then
    mkdir -p "$cache"
    "$python" -m pip download --quiet --no-deps --no-binary :all: -d "$cache" asv==0.5.1
fi
mkdir -p "$html/vendor"
tar xzf "$sdist" -C "$html/vendor" --strip-components=4 --wildcards 'asv-0.5.1/asv/www/vendor/*'

"$python" - "$html/index.html" <<'EOF'
import re, sys
path = sys.argv[1]
local = {  # CDN file (end of the URL) -> file in vendor/
    "jquery-3.3.1.min.js": "jquery-3.3.1.min.js",
    "flot/0.8.3/jquery.flot.min.js": "jquery.flot-0.8.3.min.js",
    "jquery.flot.time.min.js": "jquery.flot-0.8.3.time.min.js",
    "jquery.flot.selection.min.js": "jquery.flot-0.8.3.selection.min.js",
    "jquery.flot.categories.min.js": "jquery.flot-0.8.3.categories.min.js",
    "jquery.flot.orderBars.js": "jquery.flot.orderBars.js",
    "stupidtable.min.js": "stupidtable.js",
    "md5.min.js": "md5.js",
    "bootstrap.min.js": "bootstrap-3.1.0.min.js",
    "bootstrap.min.css": "bootstrap-3.1.0.min.css",
}
html = open(path, encoding="utf-8").read()

def fix(m):
    tag = m.group(0)
    url = re.search(r'(?:src|href)="(https://[^"]+)"', tag).group(1)
    for tail, name in local.items():
        if url.endswith(tail):
            tag = tag.replace(url, "vendor/" + name)
            return re.sub(r'\s+(integrity|crossorigin|referrerpolicy)="[^"]*"', "", tag)
    sys.exit(f"unknown external resource in index.html: {url}")

html, n = re.subn(r'<(?:script|link)\b[^>]*(?:src|href)="https://(?:code\.jquery\.com|cdnjs\.cloudflare\.com|cdn\.jsdelivr\.net)/[^"]*"[^>]*>', fix, html)
open(path, "w", encoding="utf-8").write(html)
print(f"{path}: {n} external resources now served from vendor/")
EOF
