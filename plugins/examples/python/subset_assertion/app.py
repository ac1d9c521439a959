"""acme/subset: an assertion written in Python that checks that a value contains an expected shape.

Objects match when every expected key matches (extra keys are fine); lists match when every
expected element matches a different element of the actual list, in any order; anything else must
be equal. The failure message names the first path that does not match:

    assert:
      - use: acme/subset
        with:
          path: rows
          expected: [{ name: Catan, price: 44.99 }]

Build: `componentize-py -d wit -w assertion componentize app -o acme_subset.wasm` in this directory.
"""

import json

import wit_world
from componentize_py_types import Err
from wit_world.imports import assertion_types, types

CONFIG_SCHEMA = {
    "type": "object",
    "required": ["expected"],
    "additionalProperties": False,
    "properties": {
        "path": {"type": "string", "description": "Dotted path in the subject (`body.items`); the whole subject when absent."},
        "expected": {"description": "The shape the value must contain."},
    },
}

MISSING = object()


def lookup(value, path: str):
    for part in path.split(".") if path else []:
        if isinstance(value, dict):
            value = value.get(part, MISSING)
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            return MISSING
        if value is MISSING:
            return MISSING
    return value


def mismatch(actual, expected, where: str):
    """The first difference as a message, or None when `actual` contains `expected`."""
    if isinstance(expected, dict):
        if not isinstance(actual, dict):
            return f"{where}: expected an object, found {json.dumps(actual)}"
        for key, wanted in expected.items():
            if key not in actual:
                return f"{where}.{key}: missing (expected {json.dumps(wanted)})"
            problem = mismatch(actual[key], wanted, f"{where}.{key}")
            if problem:
                return problem
        return None
    if isinstance(expected, list):
        if not isinstance(actual, list):
            return f"{where}: expected a list, found {json.dumps(actual)}"
        unused = list(range(len(actual)))
        for index, wanted in enumerate(expected):
            match = next((i for i in unused if mismatch(actual[i], wanted, "") is None), None)
            if match is None:
                return f"{where}: no element matches expected[{index}] {json.dumps(wanted)}"
            unused.remove(match)
        return None
    # JSON's true is not 1: booleans only equal booleans.
    if isinstance(actual, bool) or isinstance(expected, bool):
        equal = actual is expected
    else:
        equal = actual == expected
    return None if equal else f"{where}: expected {json.dumps(expected)}, found {json.dumps(actual)}"


class WitWorld(wit_world.WitWorld):
    def describe(self) -> types.Descriptor:
        return types.Descriptor(
            name="acme/subset",
            version="0.1.0",
            kind=types.PluginKind.ASSERTION,
            summary="Checks that a value contains an expected object or list (extra keys and elements allowed)",
            config_schema=json.dumps(CONFIG_SCHEMA),
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
            if "expected" not in config:
                raise Err(types.PluginError_InvalidConfig(types.ConfigProblem(path=f"/{index}/expected", message="expected is required")))
            path = config.get("path", "")
            actual = lookup(subject, path)
            name = path or "subject"
            if actual is MISSING:
                verdicts.append(assertion_types.Verdict(passed=False, message=f"{name}: not found", actual="null"))
                continue
            problem = mismatch(actual, config["expected"], name)
            verdicts.append(
                assertion_types.Verdict(
                    passed=problem is None,
                    message=problem or f"{name} contains the expected value",
                    actual=json.dumps(actual),
                )
            )
        return verdicts
