// The coordinator's planner API, from the page. GETs need only the client
// certificate the browser presents; POSTs are also signed with the
// planner's key (sign.js), as `tally query` signs them.

import { signRequest } from './sign.js';

const utf8 = new TextEncoder();

export class ApiError extends Error {
  constructor(status, body) {
    const e = body && body.error ? body.error : {};
    super(e.message || `HTTP ${status}`);
    this.status = status;
    this.code = e.code || 'http';
    this.field = e.field;
  }
}

async function answer(res) {
  const text = await res.text();
  let body = null;
  try {
    body = JSON.parse(text);
  } catch {
    body = null;
  }
  if (!res.ok) throw new ApiError(res.status, body);
  return body;
}

export async function get(path) {
  return answer(await fetch(path, { credentials: 'include', cache: 'no-store' }));
}

/** POST json (a string) to path, signed by planner (name, key). */
export async function post(path, json, planner) {
  const body = utf8.encode(json);
  const auth = await signRequest(planner.key, planner.name, 'POST', path, body);
  return answer(await fetch(path, {
    method: 'POST',
    credentials: 'include',
    cache: 'no-store',
    headers: { 'Content-Type': 'application/json', 'Tally-Signature': auth },
    body,
  }));
}
