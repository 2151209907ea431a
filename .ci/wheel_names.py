"""Fail unless every wheel given holds exactly one top-level name, `scoreclaims` (plus its
.dist-info): the folders claims/, verifiers/, reports/, highprec/ must install under it."""

import sys
import zipfile

bad = False
for path in sys.argv[1:]:
    names = {n.split("/")[0] for n in zipfile.ZipFile(path).namelist()}
    top = sorted(n for n in names if not n.endswith(".dist-info"))
    print(f"{path}: top-level names {top}")
    if top != ["scoreclaims"]:
        print(f"error: {path} installs {top}, not only 'scoreclaims'", file=sys.stderr)
        bad = True
sys.exit(1 if bad or len(sys.argv) < 2 else 0)
