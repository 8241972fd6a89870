// Requests to the server from the page's modules: URLs with a query, JSON answers, and the CSRF
// token for POSTs.

/** `url` with the non-empty `params` as its query string. */
export function withQuery(url, params) {
  const q = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value !== "" && value != null) q.set(key, value);
  }
  const text = q.toString();
  return text ? `${url}?${text}` : url;
}

function csrfToken() {
  // base.html puts the token in the body's hx-headers; the cookie is the fallback.
  try {
    const token = JSON.parse(document.body.getAttribute("hx-headers") || "{}")["X-CSRFToken"];
    if (token) return token;
  } catch {
    // not JSON: fall through to the cookie
  }
  const cookie = document.cookie.split("; ").find((c) => c.startsWith("csrftoken="));
  return cookie ? decodeURIComponent(cookie.slice("csrftoken=".length)) : "";
}

/**
 * A JSON request; `fields` makes it a form POST with the CSRF token. Resolves with the status
 * and the parsed body (status 0 when the server could not be reached); rejects only when
 * aborted.
 */
export async function request(url, { fields = null, signal } = {}) {
  const init = { credentials: "same-origin", headers: { Accept: "application/json" }, signal };
  if (fields) {
    init.method = "POST";
    init.body = new URLSearchParams(fields);
    init.headers["X-CSRFToken"] = csrfToken();
  }
  let response;
  try {
    response = await fetch(url, init);
  } catch (error) {
    if (error.name === "AbortError") throw error;
    return { status: 0, ok: false, body: null };
  }
  let body = null;
  try {
    body = await response.json();
  } catch {
    body = null; // an HTML error page
  }
  return { status: response.status, ok: response.ok, body };
}

/** Why a request failed, in words: the server's first located error, or what happened. */
export function reason(answer) {
  const errors = answer.body && answer.body.errors;
  if (Array.isArray(errors) && errors.length) return errors[0].message;
  return answer.status ? `the server answered ${answer.status}` : "the server could not be reached";
}
