"""README.md documents every option of wordcount.py, and shows an example."""

import re
import sys

OPTIONS = ["--lines", "--words", "--chars", "--total", "--encoding"]

text = open("README.md", encoding="utf-8").read()
problems = []
sections = re.findall(r"^## +(.+?)\s*$", text, flags=re.MULTILINE)
for wanted in ("Options", "Example"):
    if wanted not in sections:
        problems.append(f"no '## {wanted}' section")
options = text.split("## Options", 1)[-1] if "## Options" in text else ""
options = options.split("\n## ", 1)[0]
for option in OPTIONS:
    if option not in options:
        problems.append(f"the Options section does not mention {option}")
if "wordcount.py" not in text.split("## Example", 1)[-1]:
    problems.append("the Example section does not run wordcount.py")
for problem in problems:
    print(problem)
sys.exit(1 if problems else 0)
