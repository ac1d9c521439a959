// {{name}}: a testmesh action written in JavaScript. `describe` tells testmesh what the plugin is
// and which config it takes; `run` does the work and returns the step's output as JSON text.
// `fetch` works once the plugin is granted the host (`--grant http:api.example.com`).

import { write } from 'testmesh:plugin/log@0.1.0';

export function describe() {
  return {
    name: '{{name}}',
    version: '0.1.0',
    kind: 'action',
    summary: 'Greets someone (replace with what your action does)',
    configSchema: JSON.stringify({
      type: 'object',
      required: ['name'],
      additionalProperties: false,
      properties: { name: { type: 'string', description: 'Who to greet.' } },
    }),
    outputSchema: JSON.stringify({ type: 'object', properties: { message: { type: 'string' } } }),
    aliases: [],
    operations: [],
    // Ask for 'http', 'sql', 'redis' or 'env' here, with the reason an administrator reads.
    capabilities: [],
  };
}

export async function run(call) {
  try {
    const config = JSON.parse(call.config);
    if (typeof config.name !== 'string') {
      throw { tag: 'invalid-config', val: { path: '/name', message: 'name is required' } };
    }
    write('info', `greeting ${config.name} in step ${call.context.stepId}`);
    return JSON.stringify({ message: `hello, ${config.name}` });
  } catch (error) {
    // Throw plugin errors only: any other exception would abort the component.
    if (error && typeof error.tag === 'string') throw error;
    throw { tag: 'failed', val: String(error) };
  }
}
