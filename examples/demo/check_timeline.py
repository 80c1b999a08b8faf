#!/usr/bin/env python3
"""The demo as a test: runs tether-demo with --svg, which must end its story as designed (exit 0),
then reads the timeline it drew: a well-formed SVG with a tick per attempt, a bar per connection,
and the last label naming close 4003, the end of the story."""
import os
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET

demo = sys.argv[1]
with tempfile.TemporaryDirectory() as tmp:
    path = os.path.join(tmp, "timeline.svg")
    run = subprocess.run([demo, "--svg", path], timeout=60)
    if run.returncode != 0:
        sys.exit(f"tether-demo exited with {run.returncode}")
    svg = ET.parse(path).getroot()

ns = "{http://www.w3.org/2000/svg}"
def of_class(tag, cls):
    return [e for e in svg.iter(ns + tag) if e.get("class") == cls]

attempts, connections, reasons = of_class("line", "attempt"), of_class("rect", "connection"), of_class("text", "reason")
problems = []
# The story: flicker, a restart (two refused attempts), compaction (two 4001s), half-open,
# control, revoked: at least 9 attempts, of which at least 6 connected.
if len(attempts) < 9:
    problems.append(f"{len(attempts)} attempt ticks, expected at least 9")
if len(connections) < 6:
    problems.append(f"{len(connections)} connection bars, expected at least 6")
if len(reasons) != len(attempts):
    problems.append(f"{len(reasons)} reasons for {len(attempts)} attempts")
if not reasons or "4003" not in (reasons[-1].text or ""):
    problems.append("the last reason does not name close 4003: " + (reasons[-1].text if reasons else "none"))
if any(float(r.get("width")) <= 0 for r in connections):
    problems.append("a connection bar without width")
if problems:
    sys.exit("timeline: " + "; ".join(problems))
print(f"timeline: {len(attempts)} attempts, {len(connections)} connections, ends with: {reasons[-1].text}")
