"""{{name}}: a testmesh assertion written in Python. The host sends the step's output (`subject`)
and one config per check; `check` returns one verdict per check, in order."""

import json

import wit_world
from componentize_py_types import Err
from wit_world.imports import assertion_types, types

MISSING = object()


def lookup(value, path):
    for key in path.split("."):
        if isinstance(value, dict):
            value = value.get(key, MISSING)
        elif isinstance(value, list) and key.isdigit() and int(key) < len(value):
            value = value[int(key)]
        else:
            return MISSING
    return value


class WitWorld(wit_world.WitWorld):
    def describe(self) -> types.Descriptor:
        return types.Descriptor(
            name="{{name}}",
            version="0.1.0",
            kind=types.PluginKind.ASSERTION,
            summary="Checks that a field of the output equals a value (replace with your check)",
            config_schema=json.dumps({
                "type": "object",
                "required": ["path", "equals"],
                "additionalProperties": False,
                "properties": {
                    "path": {"type": "string", "description": "Dotted path in the output (`body.id`)."},
                    "equals": {"description": "The value expected there."},
                },
            }),
            output_schema="{}",
            aliases=[],
            operations=[],
            capabilities=[],
        )

    def check(self, call: assertion_types.AssertionCall) -> list[assertion_types.Verdict]:
        subject = json.loads(call.subject)
        verdicts = []
        for index, text in enumerate(call.checks):
            config = json.loads(text)
            path = config.get("path")
            if not isinstance(path, str):
                raise Err(types.PluginError_InvalidConfig(types.ConfigProblem(path=f"/{index}/path", message="path is required")))
            actual = lookup(subject, path)
            expected = config.get("equals")
            passed = actual is not MISSING and json.dumps(actual) == json.dumps(expected)
            if passed:
                message = f"{path} is {json.dumps(expected)}"
            elif actual is MISSING:
                message = f"{path}: not found"
            else:
                message = f"{path}: expected {json.dumps(expected)}, found {json.dumps(actual)}"
            shown = None if actual is MISSING else actual
            verdicts.append(assertion_types.Verdict(passed=passed, message=message, actual=json.dumps({path: shown})))
        return verdicts
