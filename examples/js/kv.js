// kv.js: the key-value host service, written as Nex 0.2's example (host calls return their value).
// Stores the payload under the key 'hello2' and returns the bucket's keys and the value read back.
//
//   ./nex devrun examples/js/kv.js --trigger hellokvservice
//   ./nex invoke hellokvservice 'hello!'
//   → {"keys":["hello2"],"hello2":"hello!"}
//
// Each workload gets its own bucket (hs_<namespace>_<workload name>_kv), created on first use
// and kept across restarts. A failed call throws an Error (e.g. 'key not found: k (404)').
(subject, payload) => {
  // set/delete round trip: 'hello' does not survive.
  this.hostServices.kv.set('hello', payload);
  this.hostServices.kv.delete('hello');

  this.hostServices.kv.set('hello2', payload);
  return {
    keys: this.hostServices.kv.keys(),
    hello2: String.fromCharCode(...this.hostServices.kv.get('hello2')),
  };
};
