// echo.js: the smallest Nex function. It answers every request with the subject it was
// triggered on and the payload as text.
//
//   ./nex devrun examples/js/echo.js --trigger hello
//   ./nex invoke hello 'hello world'
//   → {"triggered_on":"hello","payload":"hello world"}
//
// A function is a script whose last expression is a function of (subject, payload):
// subject is the subject the request arrived on, payload a Uint8Array of its bytes. The
// returned value is sent back as JSON (JSON.stringify).
(subject, payload) => {
  // UTF-8 bytes → string (TextDecoder is a browser API, not part of V8).
  const text = (bytes) => {
    const raw = String.fromCharCode(...bytes);
    try {
      return decodeURIComponent(escape(raw));
    } catch {
      return raw; // not valid UTF-8: one character per byte
    }
  };

  return {
    triggered_on: subject,
    payload: text(payload),
  };
};
