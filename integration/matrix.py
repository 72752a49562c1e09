#!/usr/bin/env python3
"""matrix.py LOG: the integration suite's results as a peer x test table.

LOG is the output of `go test -v -tags integration ./integration/...`
(.ci/run keeps it in integration/.peers/integration.log). Each row is a test
with the peer taken out of its name; each cell says PASS, FAIL or SKIP with
the reason the test gave (a peer's limitation). Tests that do not run per
peer are listed under "other". Prints Markdown.
"""

import re
import sys

PEERS = ["rabbitmq", "artemis", "proton-c", "proton-python", "embedded", "embedded-ws", "artemis-ws"]
RESULT = re.compile(r"^\s*--- (PASS|FAIL|SKIP): (\S+) \(")
RUN = re.compile(r"^=== (?:RUN|CONT|PAUSE|NAME)\s+(\S+)")
LOG = re.compile(r"^\s+\S+_test\.go:\d+: (.*)")


def parse(lines):
    """Returns (test path, verdict, skip reason) for every test and subtest.

    go test -v streams a test's log lines after its "=== RUN" line; the
    reason of a skip is the last line the test logged (t.Skipf's message).
    """
    current, last, results = None, {}, []
    for line in lines:
        m = RUN.match(line)
        if m:
            current = m.group(1)
            continue
        m = RESULT.match(line)
        if m:
            verdict, name = m.groups()
            reason = last.get(name, "") if verdict == "SKIP" else ""
            # "artemis: no X: why" -> "no X: why": the column names the peer.
            reason = re.sub(r"^[\w.-]+: (no .*)", r"\1", reason)
            results.append((name, verdict, reason))
            continue
        m = LOG.match(line)
        if m and current:
            last[current] = m.group(1)
    return results


def row_and_peer(path):
    """Splits a test path into its row (peer left out, and at most one level
    below the peer kept) and the peer, or (None, None) without a peer."""
    parts = path.split("/")
    for i, p in enumerate(parts):
        if p in PEERS:
            return "/".join(parts[:i] + ["*"] + parts[i + 1:i + 2]), p
    return None, None


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    with open(sys.argv[1], errors="replace") as f:
        results = parse(f)
    cells = {}  # row -> peer -> [verdicts], reasons
    order = []
    other = []
    seen_paths = {n for n, _, _ in results}
    for name, verdict, reason in results:
        row, peer = row_and_peer(name)
        if row is None:
            # A top-level test that does not run per peer (Artemis-only,
            # GSSAPI, ...): one line, whatever its subtests.
            if "/" not in name and not any(row_and_peer(s)[1] for s in seen_paths if s.startswith(name + "/")):
                other.append((name, verdict, reason))
            continue
        if row not in cells:
            cells[row] = {}
            order.append(row)
        cell = cells[row].setdefault(peer, {"verdicts": set(), "reasons": set()})
        cell["verdicts"].add(verdict)
        if reason:
            cell["reasons"].add(reason)

    def show(cell):
        if cell is None:
            return ""
        v = cell["verdicts"]
        if "FAIL" in v:
            return "**FAIL**"
        if v == {"SKIP"}:
            why = "; ".join(sorted(cell["reasons"]))
            return "skip: " + why if why else "skip"
        if "SKIP" in v:
            return "pass (some rows skipped)"
        return "pass"

    print("| test | " + " | ".join(PEERS) + " |")
    print("|---|" + "---|" * len(PEERS))
    for row in order:
        print("| `%s` | %s |" % (row, " | ".join(show(cells[row].get(p)) for p in PEERS)))
    if other:
        print()
        print("| test (one peer or none) | result |")
        print("|---|---|")
        for name, verdict, reason in other:
            print("| `%s` | %s |" % (name, verdict.lower() + (": " + reason if reason else "")))


if __name__ == "__main__":
    main()
