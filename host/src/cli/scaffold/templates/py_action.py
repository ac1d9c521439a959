"""{{name}}: a testmesh action written in Python. `describe` tells testmesh what the plugin is and
which config it takes; `run` does the work and returns the step's output as JSON text."""

import json

import wit_world
from componentize_py_types import Err
from wit_world.imports import log, types


class WitWorld(wit_world.WitWorld):
    def describe(self) -> types.Descriptor:
        return types.Descriptor(
            name="{{name}}",
            version="0.1.0",
            kind=types.PluginKind.ACTION,
            summary="Greets someone (replace with what your action does)",
            config_schema=json.dumps({
                "type": "object",
                "required": ["name"],
                "additionalProperties": False,
                "properties": {"name": {"type": "string", "description": "Who to greet."}},
            }),
            output_schema=json.dumps({"type": "object", "properties": {"message": {"type": "string"}}}),
            aliases=[],
            operations=[],
            # Ask for "http", "sql", "redis" or "env" here, with the reason an administrator reads.
            capabilities=[],
        )

    def run(self, call: wit_world.imports.action_types.ActionCall) -> str:
        config = json.loads(call.config)
        name = config.get("name")
        if not isinstance(name, str):
            raise Err(types.PluginError_InvalidConfig(types.ConfigProblem(path="/name", message="name is required")))
        log.write(types.Level.INFO, f"greeting {name} in step {call.context.step_id}")
        return json.dumps({"message": f"hello, {name}"})
