// kv.js: the key-value host service. Stores the payload under the key 'hello2' and returns
// the bucket's keys and the value read back.
//
//   ./nex devrun examples/js/kv.js --trigger hellokvservice
//   ./nex invoke hellokvservice 'hello!'
//   → {"keys":["hello2"],"hello2":"hello!"}
//
// Each workload gets its own bucket (hs_<namespace>_<workload name>_kv), created on first use
// and kept across restarts. Host calls return Promises: await them in an async function.
async (subject, payload) => {
  const text = (bytes) => {
    const raw = String.fromCharCode(...bytes);
    try {
      return decodeURIComponent(escape(raw));
    } catch {
      return raw;
    }
  };

  // set/delete round trip: 'hello' does not survive.
  await hostServices.kv.set('hello', payload);
  await hostServices.kv.delete('hello');

  await hostServices.kv.set('hello2', payload);
  return {
    keys: await hostServices.kv.keys(),
    hello2: text(await hostServices.kv.get('hello2')),
  };
};
