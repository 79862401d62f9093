#!/usr/bin/env python3
"""Checks docs/wavesync.schema.json (written by `wavesync schema`) against
the repositories wavesync's own tests read: every wavesync.yaml that loads
must validate, and the one with typos (validate-corpus/schema-typos) must
not. A schema an editor shows that disagrees with the loader is worse than
none."""
import glob
import json
import sys

import jsonschema
import yaml

schema = json.load(open("docs/wavesync.schema.json"))
jsonschema.Draft202012Validator.check_schema(schema)
validator = jsonschema.Draft202012Validator(schema)
# Files the loader refuses for what the schema says (unknown fields, types).
REFUSED = {"agent/tests/validate-corpus/schema-typos/wavesync.yaml"}
bad = []
for path in sorted(glob.glob("examples-repo/wavesync.yaml") + glob.glob("agent/tests/validate-corpus/*/wavesync.yaml")):
    try:
        doc = yaml.safe_load(open(path))
    except yaml.YAMLError:
        continue  # malformed on purpose: the loader's concern, not the schema's
    errors = [e.message for e in validator.iter_errors(doc)]
    if path in REFUSED and not errors:
        bad.append(f"{path}: the schema accepts it, the loader does not")
    elif path not in REFUSED and errors:
        bad.append(f"{path}: {errors[0]}")
    print(f"{path}: {'refused' if errors else 'valid'}")
if bad:
    print("\n".join(bad), file=sys.stderr)
    sys.exit(1)
