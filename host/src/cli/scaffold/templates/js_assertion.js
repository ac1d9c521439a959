// {{name}}: a testmesh assertion written in JavaScript. The host sends the step's output
// (`subject`) and one config per check; `check` returns one verdict per check, in order.

export function describe() {
  return {
    name: '{{name}}',
    version: '0.1.0',
    kind: 'assertion',
    summary: 'Checks that a field of the output equals a value (replace with your check)',
    configSchema: JSON.stringify({
      type: 'object',
      required: ['path', 'equals'],
      additionalProperties: false,
      properties: {
        path: { type: 'string', description: 'Dotted path in the output (`body.id`).' },
        equals: { description: 'The value expected there.' },
      },
    }),
    outputSchema: '{}',
    aliases: [],
    operations: [],
    capabilities: [],
  };
}

export function check(call) {
  const subject = JSON.parse(call.subject);
  return call.checks.map((text, index) => {
    const config = JSON.parse(text);
    if (typeof config.path !== 'string') {
      throw { tag: 'invalid-config', val: { path: `/${index}/path`, message: 'path is required' } };
    }
    const actual = config.path.split('.').reduce((value, key) => (value == null ? undefined : value[key]), subject);
    const expected = JSON.stringify(config.equals);
    const found = JSON.stringify(actual);
    const passed = found === expected;
    const message = passed
      ? `${config.path} is ${expected}`
      : actual === undefined ? `${config.path}: not found` : `${config.path}: expected ${expected}, found ${found}`;
    return { passed, message, actual: JSON.stringify({ [config.path]: actual ?? null }) };
  });
}
