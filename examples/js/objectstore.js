// objectstore.js: the object store host service, in 0.2's synchronous style. Stores the payload
// as the object 'hello2' and returns the bucket's object list and the object read back.
//
//   ./nex devrun examples/js/objectstore.js --trigger helloobjectstore
//   ./nex invoke helloobjectstore 'hello!'
//   → {"list":[{"name":"hello2","size":6,…}],"hello2":"hello!"}
//
// Each workload gets its own bucket (hs_<namespace>_<workload name>_obj), created on first use.
// A failed call throws an Error (e.g. 'object not found: x (404)').
(subject, payload) => {
  const text = (bytes) => {
    const raw = String.fromCharCode(...bytes);
    try {
      return decodeURIComponent(escape(raw)); // UTF-8 bytes → string
    } catch {
      return raw;
    }
  };

  // put/delete round trip: 'hello' does not survive.
  hostServices.objectStore.put('hello', payload);
  hostServices.objectStore.delete('hello');

  hostServices.objectStore.put('hello2', payload);
  return {
    list: hostServices.objectStore.list(),
    hello2: text(hostServices.objectStore.get('hello2')),
  };
};
