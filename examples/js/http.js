// http.js: the HTTP host service. Calls a URL (the payload, or https://example.org when the
// payload is empty) with GET, POST, PUT, PATCH, DELETE and HEAD and returns each status.
//
//   ./nex devrun examples/js/http.js --trigger hellohttp
//   ./nex invoke hellohttp                              # example.org
//   ./nex invoke hellohttp 'http://127.0.0.1:8080/'     # a server of yours: loopback and private
//                                                       # addresses need host_services.services.http.config.allow
//   → {"get":{"status":200,…},"post":{"status":…},…,"head":{"status":200,…}}
//
// Each call returns {status, headers, response}: response is the body as text (undefined when
// empty, always for HEAD). A failed call throws an Error; it is returned as '<method>Ex'.
//
// This one is an ES module (its default export is the function) written with async/await: host
// calls return their value, and awaiting a value is harmless, so code in either style runs.
export default async function (subject, payload) {
  const text = (bytes) => {
    const raw = String.fromCharCode(...bytes);
    try {
      return decodeURIComponent(escape(raw));
    } catch {
      return raw;
    }
  };

  const url = payload.length > 0 ? text(payload).trim() : 'https://example.org';
  const body = new Uint8Array([104, 101, 108, 108, 111]); // "hello"
  const calls = {
    get: () => hostServices.http.get(url),
    post: () => hostServices.http.post(url, body),
    put: () => hostServices.http.put(url, body),
    patch: () => hostServices.http.patch(url, body),
    delete: () => hostServices.http.delete(url),
    head: () => hostServices.http.head(url),
  };

  const result = {};
  for (const [method, call] of Object.entries(calls)) {
    try {
      const res = await call();
      result[method] = {
        status: res.status,
        headers: res.headers,
        length: res.response?.length ?? 0,
      };
    } catch (e) {
      result[method + 'Ex'] = String(e);
    }
  }

  return result;
}
