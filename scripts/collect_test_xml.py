#!/usr/bin/env python3
"""Copies the test.xml of every test that one `bazel test` invocation ran (or took from its cache) into a
folder, using that invocation's build event file: bazel-testlogs also holds XML of earlier runs (targets
since deleted, --runs_per_test leftovers), which must not be counted again. A test whose binary failed
(a sanitizer report at exit, a timeout, a crash) while its XML lists no failed case gets one failed case
of its own, so the count never hides it.

Usage: collect_test_xml.py BUILD_EVENTS.json DEST"""
import json
import os
import shutil
import sys
from urllib.parse import unquote, urlparse


def main():
    events, dest = sys.argv[1], sys.argv[2]
    copied = 0
    with open(events) as f:
        for line in f:
            e = json.loads(line)
            if "testResult" not in e:
                continue
            tid = e["id"]["testResult"]
            for o in e["testResult"].get("testActionOutput", []):
                if o["name"] != "test.xml":
                    continue
                # //pkg:name -> pkg/name, one folder per run/shard/attempt of it
                rel = tid["label"].lstrip("/").replace(":", "/")
                sub = "run_%d_shard_%d_attempt_%d" % (tid.get("run", 1), tid.get("shard", 1), tid.get("attempt", 1))
                os.makedirs(os.path.join(dest, rel, sub), exist_ok=True)
                xml = os.path.join(dest, rel, sub, "test.xml")
                shutil.copy(unquote(urlparse(o["uri"]).path), xml)
                copied += 1
                status = e["testResult"].get("status", "PASSED")
                with open(xml, errors="replace") as x:
                    text = x.read()
                if status != "PASSED" and "<failure" not in text and "<error" not in text:
                    with open(os.path.join(dest, rel, sub, "status.xml"), "w") as x:
                        x.write('<testsuite name="%s"><testcase classname="%s" name="binary">'
                                '<failure message="bazel status %s with no failed case in its XML"/>'
                                '</testcase></testsuite>\n' % (tid["label"], tid["label"], status))
    print("collected %d test.xml files into %s" % (copied, dest))


if __name__ == "__main__":
    main()
