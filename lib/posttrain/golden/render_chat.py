"""Renders chat templates with Jinja2 the way transformers' apply_chat_template does.

A sandboxed, immutable environment with trim_blocks and lstrip_blocks, the loop-controls
extension, a `tojson` filter that keeps non-ASCII text, and the `raise_exception` and
`strftime_now` globals. Reads {"template", "context", "cases": [{"messages",
"add_generation_prompt"}]} as JSON on stdin; writes the rendered strings as a JSON list.
Used by lib/posttrain/chat_template_test.ts as the reference for the Jinja that Jikji runs.
"""
import datetime
import json
import sys

import jinja2
from jinja2.ext import loopcontrols
from jinja2.sandbox import ImmutableSandboxedEnvironment


def _raise(message):
    raise jinja2.exceptions.TemplateError(message)


def _tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
    return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators,
                      sort_keys=sort_keys)


def main():
    job = json.load(sys.stdin)
    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True,
                                        extensions=[loopcontrols])
    env.filters["tojson"] = _tojson
    env.globals["raise_exception"] = _raise
    env.globals["strftime_now"] = lambda f: datetime.datetime.now().strftime(f)
    template = env.from_string(job["template"])
    out = [template.render(messages=c["messages"],
                           add_generation_prompt=c.get("add_generation_prompt", False),
                           **job.get("context", {}))
           for c in job["cases"]]
    json.dump(out, sys.stdout, ensure_ascii=False)


if __name__ == "__main__":
    main()
