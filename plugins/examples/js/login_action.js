// acme/login — an action written in JavaScript: logs in to an API with `fetch` and returns the session
// token, so that later steps can use `${token}` (or `steps.login.token`).
//
// Built with `jco componentize` (componentize-js, StarlingMonkey): `npm run build` in this directory.
// `fetch` goes through the standard wasi:http interface, so the host checks every request against
// the hosts the plugin was granted (`--grant http:api.example.com`).

import { write } from 'testmesh:plugin/log@0.1.0';

const CONFIG_SCHEMA = {
  type: 'object',
  required: ['base_url', 'username', 'password'],
  additionalProperties: false,
  properties: {
    base_url: { type: 'string', description: 'The API root; the plugin POSTs to <base_url>/login.' },
    username: { type: 'string', minLength: 1 },
    password: { type: 'string' },
  },
};

const OUTPUT_SCHEMA = {
  type: 'object',
  properties: {
    status: { type: 'integer' },
    token: { type: 'string' },
    user: { type: 'string' },
    elapsed_ms: { type: 'number' },
  },
};

export function describe() {
  return {
    name: 'acme/login',
    version: '0.1.0',
    kind: 'action',
    summary: 'Logs in to an API (POST /login with JSON credentials) and returns the session token',
    configSchema: JSON.stringify(CONFIG_SCHEMA),
    outputSchema: JSON.stringify(OUTPUT_SCHEMA),
    aliases: [],
    operations: [],
    capabilities: [{ capability: 'http', reason: 'POSTs the credentials to the API under test' }],
  };
}

export async function run(call) {
  try {
    return JSON.stringify(await login(JSON.parse(call.config)));
  } catch (error) {
    // Anything thrown that is not already a plugin-error becomes `failed`: a plain exception would
    // abort the component instead of failing the step with a message.
    throw asPluginError(error);
  }
}

async function login(config) {
  if (typeof config.base_url !== 'string' || !/^https?:\/\//.test(config.base_url)) {
    throw invalidConfig('/base_url', 'base_url must be an http:// or https:// URL');
  }
  const url = config.base_url.replace(/\/+$/, '') + '/login';
  const started = Date.now();
  let response;
  try {
    response = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json' },
      body: JSON.stringify({ username: config.username, password: config.password }),
    });
  } catch (error) {
    throw failed(`cannot POST ${url}: ${error.message}`);
  }
  const text = await response.text();
  const elapsed = Date.now() - started;
  if (!response.ok) {
    throw failed(`login as ${config.username} was refused: HTTP ${response.status} ${text.slice(0, 200)}`);
  }
  const body = JSON.parse(text);
  if (typeof body.token !== 'string') {
    throw failed(`POST ${url} answered ${response.status} without a token: ${text.slice(0, 200)}`);
  }
  write('info', `logged in as ${body.user} in ${elapsed} ms`);
  return { status: response.status, token: body.token, user: body.user, elapsed_ms: elapsed };
}

function invalidConfig(path, message) {
  return { tag: 'invalid-config', val: { path, message } };
}

function failed(message) {
  return { tag: 'failed', val: message };
}

function asPluginError(error) {
  if (error && typeof error.tag === 'string') return error;
  return failed(error instanceof Error ? `${error.name}: ${error.message}` : String(error));
}
