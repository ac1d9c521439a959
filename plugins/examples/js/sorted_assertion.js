// acme/sorted — an assertion written in JavaScript: checks that a list in the step's output is sorted
// by one of its fields.
//
//   assert:
//     - use: acme/sorted
//       with: { path: body.items, by: price, order: desc }
//
// Assertions import nothing but `log`: they judge the subject the host sends, nothing else.

const CONFIG_SCHEMA = {
  type: 'object',
  required: ['path'],
  additionalProperties: false,
  properties: {
    path: { type: 'string', description: 'Dotted path to the list in the subject (`body.items`, `body.pages.0.rows`).' },
    by: { type: 'string', description: 'Field of each element to compare; the elements themselves when absent.' },
    order: { enum: ['asc', 'desc'], default: 'asc' },
    strict: { type: 'boolean', default: false, description: 'Equal neighbours fail too.' },
  },
};

export function describe() {
  return {
    name: 'acme/sorted',
    version: '0.1.0',
    kind: 'assertion',
    summary: 'Checks that a list in the output is sorted by a field, ascending or descending',
    configSchema: JSON.stringify(CONFIG_SCHEMA),
    outputSchema: JSON.stringify({ type: 'object', properties: { at: { type: 'integer' } } }),
    aliases: [],
    operations: [],
    capabilities: [],
  };
}

export function check(call) {
  try {
    const subject = JSON.parse(call.subject);
    return call.checks.map((text, index) => judge(subject, JSON.parse(text), index));
  } catch (error) {
    throw error && typeof error.tag === 'string' ? error : { tag: 'failed', val: String(error) };
  }
}

function judge(subject, config, index) {
  if (typeof config.path !== 'string' || config.path === '') {
    throw { tag: 'invalid-config', val: { path: `/${index}/path`, message: 'path is required (`body.items`)' } };
  }
  const order = config.order ?? 'asc';
  if (order !== 'asc' && order !== 'desc') {
    throw { tag: 'invalid-config', val: { path: `/${index}/order`, message: `order must be asc or desc, not ${order}` } };
  }
  const list = lookup(subject, config.path);
  if (!Array.isArray(list)) {
    return verdict(false, `${config.path} is not a list (found ${describeValue(list)})`, { value: list ?? null });
  }
  const key = (element) => (config.by === undefined ? element : element?.[config.by]);
  const what = config.by === undefined ? config.path : `${config.path} by ${config.by}`;
  for (let i = 1; i < list.length; i++) {
    const previous = key(list[i - 1]);
    const current = key(list[i]);
    const comparison = compare(previous, current);
    if (comparison === undefined) {
      return verdict(false, `${what}: elements ${i - 1} and ${i} cannot be compared (${describeValue(previous)}, ${describeValue(current)})`, { at: i, previous, value: current });
    }
    const wrong = order === 'asc' ? comparison > 0 : comparison < 0;
    if (wrong || (config.strict && comparison === 0)) {
      const direction = order === 'asc' ? 'ascending' : 'descending';
      return verdict(false, `${what} is not ${config.strict ? 'strictly ' : ''}${direction}: element ${i} (${JSON.stringify(current)}) comes after ${JSON.stringify(previous)}`, { at: i, previous, value: current });
    }
  }
  return verdict(true, `${what} is sorted ${order === 'asc' ? 'ascending' : 'descending'} (${list.length} elements)`, { length: list.length });
}

function verdict(passed, message, actual) {
  return { passed, message, actual: JSON.stringify(actual ?? null) };
}

/** Numbers compare as numbers, strings as strings; anything else (or a mix) cannot be ordered. */
function compare(a, b) {
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  if (typeof a === 'string' && typeof b === 'string') return a < b ? -1 : a > b ? 1 : 0;
  return undefined;
}

function lookup(value, path) {
  for (const part of path.split('.')) {
    if (value === null || typeof value !== 'object') return undefined;
    value = Array.isArray(value) ? value[Number(part)] : value[part];
  }
  return value;
}

function describeValue(value) {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  return Array.isArray(value) ? 'a list' : `a ${typeof value}`;
}
