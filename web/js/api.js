// The daemon's HTTP API, authenticated by the session cookie. Every call unwraps the
// envelope: resolves with `data`, rejects with the daemon's error message.

export async function api(method, path, body) {
  const opts = { method, credentials: "same-origin", headers: {} };
  if (body !== undefined) {
    opts.headers["Content-Type"] = "application/json";
    opts.body = JSON.stringify(body);
  }
  const resp = await fetch(path, opts);
  let payload = null;
  try {
    payload = await resp.json();
  } catch {
    throw new Error(`HTTP ${resp.status}`);
  }
  if (resp.status === 401) {
    location.href = "/";
  }
  if (!payload || payload.success !== true) {
    const err = new Error((payload && payload.error) || `HTTP ${resp.status}`);
    err.status = resp.status;
    throw err;
  }
  return payload.data;
}

export const get = (path) => api("GET", path);
export const post = (path, body) => api("POST", path, body);
export const put = (path, body) => api("PUT", path, body);
export const del = (path) => api("DELETE", path);

/// A GET that resolves to `fallback` when the route does not exist (yet) on this daemon.
export async function getOr(path, fallback) {
  try {
    return await get(path);
  } catch (e) {
    if (e.status === 404) return fallback;
    throw e;
  }
}
