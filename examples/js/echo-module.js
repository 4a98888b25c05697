// echo-module.js: echo.js as an ES module, in the shape esbuild emits for
// `export default (subject, payload) => …` (esbuild --bundle --format=esm src/index.js).
//
//   ./nex devrun examples/js/echo-module.js --trigger hello
//   ./nex invoke hello 'hello world'
//   → {"triggered_on":"hello","payload":"hello world","module":true}
//
// A module's default export is the function. The module must be one file: bundle imports in.

// src/index.js
var text = (bytes) => {
  const raw = String.fromCharCode(...bytes);
  try {
    return decodeURIComponent(escape(raw)); // UTF-8 bytes → string
  } catch {
    return raw;
  }
};
var index_default = (subject, payload) => ({
  triggered_on: subject,
  payload: text(payload),
  module: true,
});
export {
  index_default as default
};
