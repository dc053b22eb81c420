#!/usr/bin/env python3
"""The repository's facts-only copy of the reference data its tests need.

bcq's emulators and clients are held against published reference files: a
real Business Central `$metadata` and captured BC responses, and the AWS API
models of Amazon Q Business and Amazon Bedrock. The tests read the copy in
`reference/` (never a folder outside the repository); this script makes that
copy from the originals, so that it can be regenerated when a model changes,
and checks that the copy still agrees with them.

    python3 scripts/reference.py build [--from DIR]   # writes reference/
    python3 scripts/reference.py check [--from DIR]   # exit 1 when they differ

DIR defaults to ../shared/reference beside the repository. `check` without
that folder says so and exits 0 (a user's clone has only the copy).

What is kept: the BC files verbatim (they are data); of the AWS models,
everything but AWS's documentation prose (shapes, members, constraints,
enums, operations, HTTP bindings, errors, paginators), written with sorted
keys so that a regenerated copy differs only where the model did.
"""

import argparse
import hashlib
import json
import os
import shutil
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
COPY = os.path.join(ROOT, "reference")
DEFAULT_SOURCE = os.path.join(os.path.dirname(ROOT), "shared", "reference")

BOTOCORE = "boto/botocore (https://github.com/boto/botocore), Apache-2.0"
REBEL = "rebelpl/bc-api2-common (https://github.com/rebelpl/bc-api2-common), MIT, (c) Artur Jedlinski"
AMP = "amp-labs/connectors (https://github.com/amp-labs/connectors) test fixtures, MIT, (c) 2024 Onset Labs, Inc."

# (path under the reference folder, how it is copied, where it comes from)
FILES = [
    ("bc/metadata.xml", "verbatim", REBEL + ", build/metadata.xml: a real BC API v2.0 $metadata"),
    ("bc/salesOrders-expand-sample.json", "verbatim", REBEL + ", tests/files/salesOrders.json: a real BC response with $expand"),
    ("bc/captured/customers-page1.json", "verbatim", AMP + ": a real BC page with @odata.nextLink"),
    ("bc/captured/customers-page2-last.json", "verbatim", AMP + ": the last page"),
    ("bc/captured/error-no-environment.xml", "verbatim", AMP + ": BC's 404 for an unknown environment"),
    ("bc/captured/error-no-lastmodified.json", "verbatim", AMP + ": BC's 400 for a filter on a missing field"),
    ("qbusiness/service-2.json", "model", BOTOCORE + ", botocore/data/qbusiness/2023-11-27/service-2.json"),
    ("qbusiness/paginators-1.json", "model", BOTOCORE + ", botocore/data/qbusiness/2023-11-27/paginators-1.json"),
    ("bedrock/bedrock-agent-service-2.json", "model", BOTOCORE + " 1.44.8, botocore/data/bedrock-agent/2023-06-05/service-2.json"),
    ("bedrock/bedrock-agent-paginators-1.json", "model", BOTOCORE + " 1.44.8, botocore/data/bedrock-agent/2023-06-05/paginators-1.json"),
    ("bedrock/bedrock-agent-runtime-service-2.json", "model", BOTOCORE + " 1.44.8, botocore/data/bedrock-agent-runtime/2023-07-26/service-2.json"),
]


def strip_docs(node):
    """The model without AWS's prose: every `documentation` string (of the
    service, operations, shapes and members) is dropped. A member that
    happens to be *named* `documentation` is a dict and stays."""
    if isinstance(node, dict):
        return {
            k: strip_docs(v)
            for k, v in node.items()
            if not (k in ("documentation", "documentationUrl") and isinstance(v, str))
        }
    if isinstance(node, list):
        return [strip_docs(v) for v in node]
    return node


def facts(kind, data):
    if kind == "verbatim":
        return data
    model = strip_docs(json.loads(data))
    return (json.dumps(model, indent=1, sort_keys=True, ensure_ascii=False) + "\n").encode()


def readme(rows):
    lines = [
        "# Reference data (generated: do not edit)",
        "",
        "The facts bcq's emulators, clients and conformance tests are held",
        "against. Made by `python3 scripts/reference.py build` from the",
        "originals in `../shared/reference`; `.ci/run` runs",
        "`python3 scripts/reference.py check`, which fails when this copy and",
        "the originals disagree. The BC files are copied as they are; the AWS",
        "models keep every shape, member, constraint, enum, operation, HTTP",
        "binding, error and paginator, without AWS's documentation strings.",
        "Each file keeps its source's license (below).",
        "",
        "| file | copied | source and license | api version | sha-256 of the original |",
        "|---|---|---|---|---|",
    ]
    for path, kind, source, version, digest in rows:
        lines.append(f"| `{path}` | {kind} | {source} | {version or '-'} | `{digest[:16]}…` |")
    lines += [
        "",
        "## Licenses",
        "",
        "- Apache-2.0 (botocore's models): https://www.apache.org/licenses/LICENSE-2.0",
        "- MIT (the BC files). The MIT notice, as both projects give it:",
        "",
        "  Permission is hereby granted, free of charge, to any person obtaining a copy",
        "  of this software and associated documentation files (the \"Software\"), to deal",
        "  in the Software without restriction, including without limitation the rights",
        "  to use, copy, modify, merge, publish, distribute, sublicense, and/or sell",
        "  copies of the Software, and to permit persons to whom the Software is",
        "  furnished to do so, subject to the following conditions: The above copyright",
        "  notice and this permission notice shall be included in all copies or",
        "  substantial portions of the Software. THE SOFTWARE IS PROVIDED \"AS IS\",",
        "  WITHOUT WARRANTY OF ANY KIND, EXPRESS OR IMPLIED.",
        "",
    ]
    return ("\n".join(lines)).encode()


def build(source, out):
    rows = []
    missing = [p for p, _, _ in FILES if not os.path.isfile(os.path.join(source, p))]
    if missing:
        sys.exit(f"reference: {source} lacks {', '.join(missing)}")
    for path, kind, origin in FILES:
        with open(os.path.join(source, path), "rb") as f:
            data = f.read()
        version = None
        if path.endswith("service-2.json"):
            version = json.loads(data)["metadata"].get("apiVersion")
        dest = os.path.join(out, path)
        os.makedirs(os.path.dirname(dest), exist_ok=True)
        with open(dest, "wb") as f:
            f.write(facts(kind, data))
        rows.append((path, kind, origin, version, hashlib.sha256(data).hexdigest()))
    with open(os.path.join(out, "README.md"), "wb") as f:
        f.write(readme(rows))


def tree(folder):
    out = {}
    for base, _, names in os.walk(folder):
        for n in names:
            p = os.path.join(base, n)
            with open(p, "rb") as f:
                out[os.path.relpath(p, folder)] = f.read()
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("command", choices=["build", "check"])
    ap.add_argument("--from", dest="source", default=DEFAULT_SOURCE, help="the originals (default ../shared/reference)")
    a = ap.parse_args()
    if a.command == "build":
        if os.path.isdir(COPY):
            shutil.rmtree(COPY)
        build(a.source, COPY)
        print(f"reference: wrote {len(FILES)} files and README.md to {COPY}")
        return
    if not os.path.isdir(a.source):
        print(f"reference: {a.source} is not here; the tests use the repository's copy as it is")
        return
    with tempfile.TemporaryDirectory() as tmp:
        build(a.source, tmp)
        want, have = tree(tmp), tree(COPY) if os.path.isdir(COPY) else {}
    differ = sorted(p for p in set(want) | set(have) if want.get(p) != have.get(p))
    if differ:
        print("reference: the repository's copy disagrees with " + a.source + ":", file=sys.stderr)
        for p in differ:
            state = "missing from the copy" if p not in have else "not in the originals" if p not in want else "differs"
            print(f"  reference/{p}: {state}", file=sys.stderr)
        print("regenerate it with `python3 scripts/reference.py build` and commit the result", file=sys.stderr)
        sys.exit(1)
    print(f"reference: the copy agrees with {a.source} ({len(want)} files)")


if __name__ == "__main__":
    main()
