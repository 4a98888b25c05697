// messaging.js: the messaging host service. Publishes the payload on 'hello.world', sends it
// as a request to 'hello.world.request' and returns the reply as text.
//
// Something must answer on hello.world.request, for example the echo function (devrun names a
// workload after its file, so this one runs beside messaging.js):
//
//   ./nex devrun examples/js/echo.js --trigger hello.world.request
//   ./nex devrun examples/js/messaging.js --trigger hellomessaging
//   ./nex invoke hellomessaging 'hi'
//   → {"hello.world.request":"{\"triggered_on\":\"hello.world.request\",\"payload\":\"hi\"}"}
//
// Host calls return their value, as in 0.2. A failed call throws an Error; here it is returned
// as 'hello.world.request.ex'.
(subject, payload) => {
  const text = (bytes) => {
    const raw = String.fromCharCode(...bytes);
    try {
      return decodeURIComponent(escape(raw));
    } catch {
      return raw;
    }
  };

  hostServices.messaging.publish('hello.world', payload);

  try {
    const reply = hostServices.messaging.request('hello.world.request', payload);
    return { 'hello.world.request': text(reply) };
  } catch (e) {
    return { 'hello.world.request.ex': String(e) };
  }
};
