// objectstore.js: the object store host service. Stores the payload as the object 'hello2'
// and returns the bucket's object list and the object read back.
//
//   ./nex devrun examples/js/objectstore.js --trigger helloobjectstore
//   ./nex invoke helloobjectstore 'hello!'
//   → {"list":[{"name":"hello2","size":6,…}],"hello2":"hello!"}
//
// Each workload gets its own bucket (hs_<namespace>_<workload name>_obj), created on first use.
// Host calls return Promises: await them in an async function.
async (subject, payload) => {
  const text = (bytes) => {
    const raw = String.fromCharCode(...bytes);
    try {
      return decodeURIComponent(escape(raw));
    } catch {
      return raw;
    }
  };

  // put/delete round trip: 'hello' does not survive.
  await hostServices.objectStore.put('hello', payload);
  await hostServices.objectStore.delete('hello');

  await hostServices.objectStore.put('hello2', payload);
  return {
    list: await hostServices.objectStore.list(),
    hello2: text(await hostServices.objectStore.get('hello2')),
  };
};
