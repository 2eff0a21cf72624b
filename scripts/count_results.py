#!/usr/bin/env python3
"""Counts test cases in every JUnit/gtest XML file under a folder and prints 'N passed, N failed'.

A case with a <failure> or <error> child failed; a case gtest reports as skipped counts as failed too
(we do not skip assertions); a file that cannot be parsed counts as one failure. Exits 1 if any failed."""
import sys
import xml.etree.ElementTree as ET
from pathlib import Path


def main():
    root = Path(sys.argv[1] if len(sys.argv) > 1 else "test-results")
    passed = failed = 0
    failures = []
    for f in sorted(root.rglob("*.xml")):
        try:
            tree = ET.parse(f)
        except ET.ParseError:
            failed += 1
            failures.append(f"{f}: unreadable XML")
            continue
        for case in tree.iter("testcase"):
            bad = case.find("failure") is not None or case.find("error") is not None
            skipped = case.find("skipped") is not None or case.get("result") == "skipped" \
                or case.get("status") == "notrun"
            if bad or skipped:
                failed += 1
                failures.append(f"{f.relative_to(root)}: {case.get('classname', '')}.{case.get('name')}")
            else:
                passed += 1
    for line in failures:
        print("FAILED", line)
    print(f"{passed} passed, {failed} failed")
    return 1 if failed or passed == 0 else 0


if __name__ == "__main__":
    sys.exit(main())
