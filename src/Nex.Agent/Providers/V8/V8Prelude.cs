namespace Nex.Agent.Providers.V8;

/// <summary>
/// The JavaScript run in every fresh context before the function's script (spec §5.10). It is a function
/// expression taking the five host callbacks (<c>done</c>, <c>call</c>, <c>take</c>, <c>log</c>, <c>fill</c>) in a closure,
/// so the user script never sees them; it installs <c>hostServices</c> (synchronous, as 0.2's: every method
/// returns its value or throws) and <c>console</c> on the global object and returns the per-context API the
/// host drives (<c>setFn</c>, <c>run</c>).
/// </summary>
internal static class V8Prelude
{
    /// <summary>Result conversion kinds shared with <see cref="V8HostResult"/>: nothing (undefined).</summary>
    public const int KindNone = 0;

    /// <summary>Return the reply bytes as a Uint8Array.</summary>
    public const int KindBytes = 1;

    /// <summary>Return the reply parsed as a JSON array (empty body → <c>[]</c>, §11 #12).</summary>
    public const int KindJsonList = 2;

    /// <summary>Return the reply parsed as JSON (empty body → undefined).</summary>
    public const int KindJsonObject = 3;

    /// <summary>Return the host-built HTTP result object (JSON text).</summary>
    public const int KindHttp = 4;

    /// <summary>Return an array of Uint8Array: all bytes plus a JSON array of lengths.</summary>
    public const int KindMany = 5;

    /// <summary>The prelude source.</summary>
    public const string Source = """
(function (done, call, take, log, fill) {
  'use strict';
  const U8 = Uint8Array, P = Promise, E = Error, S = String, J = JSON, O = Object, A = Array;
  const toStr = O.prototype.toString;
  const isU8 = (v) => v instanceof U8;
  const describe = (v) => v === null ? 'null' : (typeof v === 'object' ? toStr.call(v).slice(8, -1) : typeof v);
  const marshal = (v) => new E('failed to marshal v8 value to []byte: value of type ' + describe(v) + ' is not a Uint8Array; only Uint8[] is supported');
  const fail = (msg) => { throw new E(msg); };
  const str = (v) => typeof v === 'string' && v.length > 0;
  let active = false; // set by run: top-level code (run when the context is prepared) has no host services

  // hostServices is built on first use: most functions never touch it, and building its ~30 closures and
  // frozen objects was a measurable part of every fresh context's preparation. A getter without a setter
  // on a non-configurable property behaves as 0.2's read-only global (assignment is ignored, or throws in
  // strict code); each context builds its own, so nothing is shared between calls.
  function buildHostServices() {
    // One synchronous host-service round trip (spec §5.10: 0.2's calls return their value). call blocks until
    // the node answers and returns the reply's byte count, or -1 with the error message staged; take hands
    // over the staged text (error, JSON) and copies the staged bytes into the Uint8Array it is given.
    function rpc(service, method, h1n, h1v, h2n, h2v, body, kind) {
      if (!active) throw new E('host services are only available while the function runs');
      const n = call(service, method, h1n, h1v, h2n, h2v, body === undefined ? null : body, kind);
      if (n < 0) throw new E(take(null));
      const bytes = kind === 1 || kind === 5 ? new U8(n) : null;
      return convert(kind, bytes, take(bytes));
    }

    function convert(kind, bytes, text) {
      switch (kind) {
        case 1: return bytes;
        case 2: return text ? J.parse(text) : [];
        case 3: return text ? J.parse(text) : undefined;
        case 4: return J.parse(text);
        case 5: {
          const lengths = J.parse(text);
          const out = [];
          let offset = 0;
          for (const n of lengths) { out.push(bytes.slice(offset, offset + n)); offset += n; }
          return out;
        }
        default: return undefined;
      }
    }

    const kv = {
      get(...args) { return args.length !== 1 || !str(args[0]) ? fail('key is required') : rpc('kv', 'get', 'x-keyvalue-key', args[0], null, null, null, 1); },
      set(...args) {
        if (args.length !== 2 || !str(args[0]) || args[1] === undefined || args[1] === null) return fail('key and value are required');
        if (!isU8(args[1])) throw marshal(args[1]);
        return rpc('kv', 'set', 'x-keyvalue-key', args[0], null, null, args[1], 0);
      },
      delete(...args) { return args.length !== 1 || !str(args[0]) ? fail('key is required') : rpc('kv', 'delete', 'x-keyvalue-key', args[0], null, null, null, 0); },
      keys() { return rpc('kv', 'keys', null, null, null, null, null, 2); },
    };

    function msg(method, kind) {
      return (...args) => {
        if (args.length !== 2 || !str(args[0]) || args[1] === undefined || args[1] === null) return fail('subject and payload are required');
        if (!isU8(args[1])) throw marshal(args[1]);
        return rpc('messaging', method, 'x-subject', args[0], null, null, args[1], kind);
      };
    }

    const messaging = { publish: msg('publish', 0), request: msg('request', 1), requestMany: msg('requestMany', 5) };

    const objectStore = {
      get(...args) { return args.length !== 1 || !str(args[0]) ? fail('name is required') : rpc('objectstore', 'get', 'x-object-name', args[0], null, null, null, 1); },
      put(...args) {
        if (args.length !== 2 || !str(args[0]) || args[1] === undefined || args[1] === null) return fail('name and value are required');
        if (!isU8(args[1])) throw marshal(args[1]);
        return rpc('objectstore', 'put', 'x-object-name', args[0], null, null, args[1], 3);
      },
      delete(...args) { return args.length !== 1 || !str(args[0]) ? fail('name is required') : rpc('objectstore', 'delete', 'x-object-name', args[0], null, null, null, 0); },
      list() { return rpc('objectstore', 'list', null, null, null, null, null, 2); },
    };

    const isOptions = (v) => v !== null && typeof v === 'object' && !isU8(v) && !A.isArray(v) && !ArrayBuffer.isView(v);
    function headersOf(options) {
      if (options === undefined || options === null) return null;
      if (!isOptions(options)) throw new E('http options must be an object');
      return options.headers === undefined || options.headers === null ? null : J.stringify(options.headers);
    }

    function httpNoBody(method) {
      return (...args) => {
        if (args.length < 1 || !str(args[0])) return fail('url is required');
        const headers = headersOf(args[1]);
        return rpc('http', method, 'x-http-url', args[0], headers === null ? null : 'x-http-headers', headers, null, 4);
      };
    }

    function httpBody(method) {
      return (...args) => {
        if (args.length < 1 || !str(args[0])) return fail('url is required');
        let body = null, options = args[2];
        const second = args[1];
        if (isU8(second)) body = second;
        else if (second === undefined || second === null) body = null;
        else if (args.length === 2 && isOptions(second)) options = second;
        else throw marshal(second);
        const headers = headersOf(options);
        return rpc('http', method, 'x-http-url', args[0], headers === null ? null : 'x-http-headers', headers, body, 4);
      };
    }

    const http = {
      get: httpNoBody('get'), head: httpNoBody('head'), delete: httpNoBody('delete'),
      post: httpBody('post'), put: httpBody('put'), patch: httpBody('patch'),
    };

    return O.freeze({ kv: O.freeze(kv), messaging: O.freeze(messaging), objectStore: O.freeze(objectStore), http: O.freeze(http) });
  }

  let hostServices = null;
  O.defineProperty(globalThis, 'hostServices', { get() { return hostServices || (hostServices = buildHostServices()); }, enumerable: false, configurable: false });

  const text = (v) => {
    if (typeof v === 'string') return v;
    if (v instanceof E) return v.stack ? S(v.stack) : S(v);
    try { const s = J.stringify(v); return s === undefined ? S(v) : s; } catch (e) { return S(v); }
  };
  const line = (stream) => (...args) => { log(stream, A.prototype.map.call(args, text).join(' ')); };
  globalThis.console = { log: line(0), info: line(0), debug: line(0), trace: line(0), warn: line(1), error: line(1) };

  const errText = (e) => { try { return e instanceof E && e.stack ? S(e.stack) : S(e); } catch (_) { return 'uncaught exception'; } };
  const finish = (v) => {
    try {
      if (isU8(v)) { done(true, v); return; }
      const s = J.stringify(v);
      done(true, s === undefined ? '' : s);
    } catch (e) { done(false, errText(e)); }
  };

  let fn = null;
  return {
    setFn(v) { if (typeof v !== 'function') return false; fn = v; return true; },
    run(subject, n) {
      active = true;
      // The payload is copied in by the host from inside this call: one entry into V8 per call, not three.
      const payload = new U8(n);
      if (n > 0) fill(payload);
      let r;
      // this = the global object, as 0.2 calls the function (a module's strict function would get undefined).
      try { r = fn.call(globalThis, subject, payload); } catch (e) { done(false, errText(e)); return; }
      if (r !== null && (typeof r === 'object' || typeof r === 'function') && typeof r.then === 'function') {
        P.resolve(r).then(finish, (e) => done(false, errText(e)));
      } else {
        finish(r);
      }
    },
  };
})
""";
}
