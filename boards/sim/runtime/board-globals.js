// Evaluated INSIDE the board's vm context (never in Node): it builds the Espruino
// globals out of the board's own intrinsics, so every object, array and error the
// board code sees comes from its realm (instanceof works, nothing Node leaks in).
// The host bridge passed in only exchanges primitives with this file.
// Returns the hooks the host calls back through (timers firing, socket events).
// eslint-disable-next-line @typescript-eslint/no-unused-expressions -- vm.Script returns this function as its completion value
(function (host, profile) {
  'use strict';
  var G = globalThis;
  var fnToString = Function.prototype.toString;
  var hasOwn = Object.prototype.hasOwnProperty;
  var defineProperty = Object.defineProperty;
  var fromCharCode = String.fromCharCode;
  var isArray = Array.isArray;
  var U8 = Uint8Array;
  var AB = ArrayBuffer;
  var jsonStringify = JSON.stringify;

  function hidden(obj, name, value) {
    defineProperty(obj, name, { value: value, writable: true, configurable: true, enumerable: false });
  }

  // ---- What the board does not have (espruino-facts.md, "fails or is missing") ----
  var missingGlobals = ['Map', 'Set', 'WeakMap', 'WeakSet', 'Symbol', 'Proxy', 'Reflect', 'BigInt',
    'BigInt64Array', 'BigUint64Array', 'WeakRef', 'FinalizationRegistry', 'SharedArrayBuffer', 'Atomics',
    'WebAssembly', 'Intl', 'AggregateError', 'Buffer', 'TextEncoder', 'TextDecoder', 'queueMicrotask',
    'structuredClone', 'setImmediate', 'clearImmediate', 'global', 'window', 'document', 'process', 'console'];
  missingGlobals.forEach(function (n) { delete G[n]; });
  var missingProps = [[Array, 'from'], [Array, 'of'], [ArrayBuffer, 'isView'], [ArrayBuffer.prototype, 'slice'],
    [Number, 'isInteger'], [Number, 'isSafeInteger'], [Math, 'trunc'], [Math, 'imul'], [Object, 'freeze'],
    [Object, 'fromEntries'], [Promise.prototype, 'finally'], [Array.prototype, 'flatMap'],
    [String.prototype, 'padEnd'], [Error, 'captureStackTrace']];
  missingProps.forEach(function (p) { delete p[0][p[1]]; });
  // `e.name` is undefined, `new TypeError() instanceof Error` is false, and
  // RangeError / EvalError / URIError do not exist; InternalError does (measured).
  function InternalError(message) {
    if (!(this instanceof InternalError)) return new InternalError(message);
    if (message !== undefined) this.message = message;
  }
  G.InternalError = InternalError;
  [['Error', Error], ['TypeError', TypeError], ['SyntaxError', SyntaxError], ['ReferenceError', ReferenceError],
    ['InternalError', InternalError]].forEach(function (pair) {
    var label = pair[0], C = pair[1];
    delete C.prototype.name;
    if (C !== Error) Object.setPrototypeOf(C.prototype, Object.prototype);
    hidden(C.prototype, 'toString', function () {
      var m = hasOwn.call(this, 'message') ? this.message : undefined;
      return label + (m === undefined ? '' : ': ' + m);
    });
  });
  delete G.RangeError;
  delete G.EvalError;
  delete G.URIError;

  function errorText(e) {
    try { return String(e); } catch (_) { return '?'; }
  }

  // Anything thrown from a callback becomes an 'Uncaught ...' line and the board goes on.
  function guard(fn, self, args) {
    try {
      return fn.apply(self, args);
    } catch (e) {
      host.uncaught('Uncaught ' + errorText(e));
    }
  }

  // ---- Events on every object, as Espruino has them on Object.prototype ----
  // Listeners live in an ordinary property "#on<event>" (visible to Object.keys,
  // for..in and JSON, as on the board): the function itself, or an array of them.
  function listeners(obj, event) {
    var key = '#on' + event;
    if (!hasOwn.call(obj, key)) return [];
    var v = obj[key];
    return isArray(v) ? v.slice() : [v];
  }
  function setListeners(obj, event, list) {
    var key = '#on' + event;
    if (!list.length) delete obj[key];
    else obj[key] = list.length === 1 ? list[0] : list;
  }
  hidden(Object.prototype, 'on', function (event, listener) {
    var list = listeners(this, event);
    list.push(listener);
    setListeners(this, event, list);
  });
  hidden(Object.prototype, 'addListener', Object.prototype.on);
  hidden(Object.prototype, 'prependListener', function (event, listener) {
    var list = listeners(this, event);
    list.unshift(listener);
    setListeners(this, event, list);
  });
  hidden(Object.prototype, 'removeListener', function (event, listener) {
    var list = listeners(this, event);
    var i = list.indexOf(listener);
    if (i >= 0) list.splice(i, 1);
    setListeners(this, event, list);
  });
  hidden(Object.prototype, 'removeAllListeners', function (event) {
    if (event !== undefined) { delete this['#on' + event]; return; }
    for (var k in this) if (hasOwn.call(this, k) && k.indexOf('#on') === 0) delete this[k];
  });
  // emit() on the board queues the listeners for its idle loop: they run after the caller returns.
  var deferred = [];
  hidden(Object.prototype, 'emit', function (event) {
    var args = [];
    for (var i = 1; i < arguments.length; i++) args.push(arguments[i]);
    var list = listeners(this, event);
    for (var j = 0; j < list.length; j++) deferred.push([list[j], this, args]);
    if (list.length) host.defer();
  });
  function runDeferred() {
    var batch = deferred;
    deferred = [];
    for (var i = 0; i < batch.length; i++) guard(batch[i][0], batch[i][1], batch[i][2]);
  }
  // Host-side events (sockets, Wi-Fi) already arrive one per turn of the loop: run them now.
  function fire(obj, event, args) {
    var list = listeners(obj, event);
    for (var i = 0; i < list.length; i++) guard(list[i], obj, args);
  }

  // ---- Bytes and strings ----
  function pushBytes(x, out) {
    if (typeof x === 'string') { out.push(x); return true; }
    if (typeof x === 'number' || typeof x === 'boolean') { out.push(fromCharCode(Number(x) & 255)); return true; }
    if (x instanceof AB) x = new U8(x);
    if (x && typeof x === 'object' && typeof x.length === 'number' && (isArray(x) || x.buffer instanceof AB)) {
      if (x instanceof U8) {
        for (var o = 0; o < x.length; o += 4096) out.push(fromCharCode.apply(null, x.subarray(o, o + 4096)));
        return true;
      }
      for (var i = 0; i < x.length; i++) if (!pushBytes(x[i], out)) return false;
      return true;
    }
    if (x && typeof x === 'object' && 'data' in x) {
      var n = x.count === undefined ? 1 : x.count;
      for (var c = 0; c < n; c++) if (!pushBytes(x.data, out)) return false;
      return true;
    }
    return false;
  }
  function toByteString() {
    var out = [];
    for (var i = 0; i < arguments.length; i++) if (!pushBytes(arguments[i], out)) return undefined;
    return out.join('');
  }
  function bytesToU8(s) {
    var u = new U8(s.length);
    for (var i = 0; i < s.length; i++) u[i] = s.charCodeAt(i) & 255;
    return u;
  }
  // What socket.write sends: strings as they are, anything else through String(),
  // so a Uint8Array or Array goes out as the text "0,1,2".
  function wireText(x) {
    if (typeof x === 'string') return x;
    if (x instanceof AB) return Array.prototype.join.call(new U8(x), ',');
    return String(x);
  }

  // ---- Timers ----
  var timers = {};
  var nextTimer = 1;
  function addTimer(fn, ms, args, repeat) {
    if (typeof fn === 'string') { var code = fn; fn = function () { (0, eval)(code); }; }
    if (typeof fn !== 'function') throw new TypeError('Function or String not supplied!');
    var id = nextTimer++;
    var extra = [];
    for (var i = 2; i < args.length; i++) extra.push(args[i]);
    timers[id] = { fn: fn, args: extra, repeat: repeat };
    host.timerStart(id, Math.max(0, Number(ms) || 0), repeat);
    return id;
  }
  // clearTimeout() with no argument clears every timer; clearTimeout(undefined) throws (measured, 2v29).
  function removeTimer(name, args) {
    if (!args.length) {
      for (var k in timers) { delete timers[k]; host.timerStop(Number(k)); }
      return;
    }
    var id = args[0];
    if (id === undefined) throw new Error(name + '(undefined) not allowed. Use ' + name + '() instead');
    if (hasOwn.call(timers, id)) { delete timers[id]; host.timerStop(Number(id)); }
  }
  G.setTimeout = function setTimeout(fn, ms) { return addTimer(fn, ms, arguments, false); };
  G.setInterval = function setInterval(fn, ms) { return addTimer(fn, ms, arguments, true); };
  G.clearTimeout = function clearTimeout() { removeTimer('clearTimeout', arguments); };
  G.clearInterval = function clearInterval() { removeTimer('clearInterval', arguments); };
  G.changeInterval = function changeInterval(id, ms) {
    if (timers[id]) { host.timerStop(id); host.timerStart(id, Math.max(0, Number(ms) || 0), timers[id].repeat); }
  };
  function fireTimer(id) {
    var t = timers[id];
    if (!t) return;
    if (!t.repeat) delete timers[id];
    guard(t.fn, G, t.args);
  }

  // ---- Console, time, E, process ----
  function show(x) {
    if (typeof x === 'string') return x;
    if (typeof x === 'function') return 'function () { ... }';
    if (x !== null && typeof x === 'object') {
      if (typeof x.message === 'string' && x.constructor) return errorText(x);
      try { var j = jsonStringify(x); if (j !== undefined) return j; } catch (_) { /* cyclic: fall through */ }
    }
    return String(x);
  }
  G.console = {
    log: function () {
      var parts = [];
      for (var i = 0; i < arguments.length; i++) parts.push(show(arguments[i]));
      host.log(parts.join(' '));
    },
  };
  G.console.info = G.console.warn = G.console.error = G.console.debug = G.console.log;
  G.print = G.console.log;
  G.getTime = function getTime() { return host.now() / 1000; };
  // Only the Linux build has quit(): it ends the interpreter at once.
  if (profile.quit) G.quit = function quit() { host.quit(); };
  G.E = {
    toString: toByteString,
    toUint8Array: function () {
      var s = toByteString.apply(null, arguments);
      return s === undefined ? undefined : bytesToU8(s);
    },
    toArrayBuffer: function (s) { return bytesToU8(String(s)).buffer; },
    toJS: function (x) { return jsonStringify(x); },
    getTemperature: function () { return host.temperature(); },
    getSizeOf: function (x) { return host.sizeOf(x); },
    setFlags: function () {},
    getFlags: function () { return { pretokenise: 0 }; },
    hwRand: function () { return (Math.random() * 4294967296) | 0; },
    defrag: function () {},
    errorFlag: function () { return []; },
  };
  G.process = {
    version: '2v29',
    env: { VERSION: '2v29', BOARD: profile.envBoard },
    memory: function () {
      var m = host.memory();
      return { free: m[2], usage: m[0], total: m[1], history: 0, gc: 0, gctime: 0, blocksize: profile.varBytes };
    },
  };
  var b64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
  G.btoa = function btoa(s) {
    s = String(s);
    var out = '';
    for (var i = 0; i < s.length; i += 3) {
      var a = s.charCodeAt(i) & 255, b = s.charCodeAt(i + 1) & 255, c = s.charCodeAt(i + 2) & 255;
      var n = (a << 16) | ((i + 1 < s.length ? b : 0) << 8) | (i + 2 < s.length ? c : 0);
      out += b64.charAt(n >> 18) + b64.charAt((n >> 12) & 63) +
        (i + 1 < s.length ? b64.charAt((n >> 6) & 63) : '=') + (i + 2 < s.length ? b64.charAt(n & 63) : '=');
    }
    return out;
  };
  G.atob = function atob(s) {
    s = String(s).replace(/[^A-Za-z0-9+/]/g, '');
    var out = '', bits = 0, acc = 0;
    for (var i = 0; i < s.length; i++) {
      acc = (acc << 6) | b64.indexOf(s.charAt(i));
      bits += 6;
      if (bits >= 8) { bits -= 8; out += fromCharCode((acc >> bits) & 255); }
    }
    return out;
  };

  // ---- Sockets (net / tls) ----
  var sockets = {};
  var nextSocket = 1;
  function Socket() {}
  Socket.prototype.write = function (data) {
    var st = sockets[this.__sid];
    if (!st || st.closed) throw new Error('This socket is closed');
    host.netWrite(this.__sid, wireText(data));
    return true;
  };
  Socket.prototype.end = function (data) {
    var st = sockets[this.__sid];
    if (!st || st.closed) return;
    if (data !== undefined) this.write(data);
    if (!st.ending) { st.ending = true; host.netEnd(this.__sid); }
  };
  function parseTarget(options) {
    if (typeof options === 'string') {
      var m = /^(?:[a-z]+:\/\/)?([^:/]+)(?::(\d+))?/.exec(options);
      if (!m) throw new Error('Invalid URL ' + options);
      return { host: m[1], port: m[2] ? Number(m[2]) : 80 };
    }
    if (!options || typeof options !== 'object') throw new TypeError('Expecting Options to be an Object but it is ' + typeof options);
    return options;
  }
  function connect(options, cb, secure) {
    var o = parseTarget(options);
    var id = nextSocket++;
    var sock = new Socket();
    hidden(sock, '__sid', id);
    sockets[id] = { sock: sock, closed: false, ending: false };
    if (typeof cb === 'function') sock.on('connect', cb);
    var tlsOpts = secure ? jsonStringify({ ca: o.ca, key: o.key, cert: o.cert }) : '';
    var err = host.netConnect(id, String(o.host === undefined ? 'localhost' : o.host), Number(o.port) || 0, secure, tlsOpts);
    if (err) {
      delete sockets[id];
      throw new InternalError(err);
    }
    return sock;
  }
  function socketEvent(id, type, a, b) {
    var st = sockets[id];
    if (!st) return;
    var s = st.sock;
    if (type === 'connect') fire(s, 'connect', [s]);
    else if (type === 'data') fire(s, 'data', [a]);
    else if (type === 'drain') fire(s, 'drain', [s]);
    else if (type === 'error') fire(s, 'error', [{ code: a, message: b }]);
    else if (type === 'end') fire(s, 'end', []);
    else if (type === 'close') {
      st.closed = true;
      delete sockets[id];
      fire(s, 'close', [!!a]);
    }
  }

  // ---- Storage (simulated flash; bytes live on the host) ----
  function storageName(name) {
    name = String(name);
    if (!name.length) throw new Error('Filename must not be empty');
    if (name.length > 28) throw new Error('File name too long (max 28 chars): ' + name);
    return name;
  }
  function storageBytes(data) {
    if (typeof data === 'string') return data;
    var s = toByteString(data);
    return s === undefined ? String(data) : s;
  }
  function StorageFile(name, mode) {
    this.name = name;
    this.mode = mode;
    this.offset = 0;
    if (mode === 'w') host.storageErase(name + '\u0001');
  }
  StorageFile.prototype.write = function (data) {
    if (this.mode === 'r') throw new Error('File is open for reading');
    var key = this.name + '\u0001';
    var cur = host.storageRead(key);
    var err = host.storageWrite(key, (cur === undefined ? '' : cur) + storageBytes(data), -1, -1);
    if (err) throw new Error(err);
  };
  StorageFile.prototype.read = function (len) {
    var cur = host.storageRead(this.name + '\u0001');
    if (cur === undefined || this.offset >= cur.length) return undefined;
    var s = cur.substr(this.offset, len);
    this.offset += s.length;
    return s;
  };
  StorageFile.prototype.readLine = function () {
    var cur = host.storageRead(this.name + '\u0001');
    if (cur === undefined || this.offset >= cur.length) return undefined;
    var nl = cur.indexOf('\n', this.offset);
    var end = nl < 0 ? cur.length : nl + 1;
    var s = cur.substring(this.offset, end);
    this.offset = end;
    return s;
  };
  StorageFile.prototype.getLength = function () {
    var cur = host.storageRead(this.name + '\u0001');
    return cur === undefined ? 0 : cur.length;
  };
  StorageFile.prototype.erase = function () { host.storageErase(this.name + '\u0001'); };
  var storage = {
    read: function (name, offset, length) {
      var s = host.storageRead(storageName(name));
      if (s === undefined) return undefined;
      if (offset !== undefined) s = s.substr(offset, length === undefined ? s.length : length);
      return s;
    },
    readJSON: function (name, noExceptions) {
      var s = this.read(name);
      if (s === undefined) return undefined;
      try { return JSON.parse(s); } catch (e) { if (noExceptions) return undefined; throw e; }
    },
    readArrayBuffer: function (name) {
      var s = this.read(name);
      return s === undefined ? undefined : bytesToU8(s).buffer;
    },
    write: function (name, data, offset, size) {
      var err = host.storageWrite(storageName(name), storageBytes(data),
        offset === undefined ? -1 : Number(offset), size === undefined ? -1 : Number(size));
      if (err) throw new Error(err);
      return true;
    },
    writeJSON: function (name, data) { return this.write(name, jsonStringify(data)); },
    erase: function (name) { host.storageErase(storageName(name)); },
    eraseAll: function () { host.storageEraseAll(); },
    list: function (re, filter) {
      var names = JSON.parse(host.storageList());
      var out = [];
      for (var i = 0; i < names.length; i++) {
        var n = names[i];
        var sf = n.charAt(n.length - 1) === '\u0001';
        if (filter && filter.sf === true) { if (!sf) continue; n = n.slice(0, -1); }
        if (filter && filter.sf === false && sf) continue;
        if (re && !(re instanceof RegExp ? re.test(n) : n.indexOf(String(re)) >= 0)) continue;
        out.push(n);
      }
      return out;
    },
    getFree: function () { return host.storageFree(); },
    getStats: function () {
      var s = JSON.parse(host.storageStats());
      return { fileBytes: s[0], freeBytes: s[1], fileCount: s[2], trashBytes: 0, trashCount: 0, totalBytes: s[3] };
    },
    compact: function () {},
    debug: function () {},
    open: function (name, mode) {
      if (mode !== 'r' && mode !== 'w' && mode !== 'a') throw new Error('Invalid mode ' + mode);
      storageName(String(name) + '_');
      return new StorageFile(String(name), mode);
    },
  };

  // ---- Wi-Fi (simulated: the host network is always reachable) ----
  var wifiState = { connected: false, ssid: '', hostname: 'espruino' };
  var wifi = {
    connect: function (ssid, options, cb) {
      if (typeof options === 'function') cb = options;
      G.setTimeout(function () {
        wifiState.connected = true;
        wifiState.ssid = String(ssid);
        if (typeof cb === 'function') cb(null);
        fire(wifi, 'connected', [{ ssid: wifiState.ssid, mac: '5c:cf:7f:00:00:01' }]);
      }, 20);
    },
    disconnect: function (cb) {
      G.setTimeout(function () {
        wifiState.connected = false;
        if (typeof cb === 'function') cb();
        fire(wifi, 'disconnected', [{ ssid: wifiState.ssid, reason: '8' }]);
      }, 1);
    },
    getStatus: function (cb) {
      var st = { station: wifiState.connected ? 'connected' : 'off', ap: 'disabled', mode: 'Station' };
      if (typeof cb === 'function') cb(st);
      return st;
    },
    getIP: function (cb) {
      var ip = { ip: wifiState.connected ? '127.0.0.1' : '0.0.0.0', netmask: '255.0.0.0', gw: '127.0.0.1', mac: '5c:cf:7f:00:00:01' };
      if (typeof cb === 'function') G.setTimeout(function () { cb(null, ip); }, 1);
      return ip;
    },
    getDetails: function (cb) {
      var d = { status: wifiState.connected ? 'connected' : 'off', ssid: wifiState.ssid, rssi: -50 };
      if (typeof cb === 'function') cb(d);
      return d;
    },
    setHostname: function (name, cb) { wifiState.hostname = String(name); if (typeof cb === 'function') cb(); },
    getHostname: function (cb) { if (typeof cb === 'function') cb(wifiState.hostname); return wifiState.hostname; },
    scan: function (cb) { G.setTimeout(function () { cb([]); }, 10); },
    save: function () {},
    restore: function () {},
  };

  // ---- Modules and require ----
  var sources = {};
  var cache = {};
  var builtins = {};
  builtins.net = { connect: function (o, cb) { return connect(o, cb, false); } };
  if (profile.tls) builtins.tls = { connect: function (o, cb) { return connect(o, cb, true); } };
  if (profile.wifi) builtins.Wifi = wifi;
  if (profile.storage) builtins.Storage = storage;
  G.Modules = {
    addCached: function (name, src) {
      name = String(name);
      sources[name] = typeof src === 'function' ? '(' + fnToString.call(src) + ')()' : String(src);
      delete cache[name];
    },
    removeCached: function (name) { delete sources[name]; delete cache[name]; },
    removeAllCached: function () { sources = {}; cache = {}; },
    getCached: function () {
      var names = Object.keys(cache);
      for (var n in sources) if (names.indexOf(n) < 0) names.push(n);
      return names;
    },
  };
  // Like the board: the module cache, the built-in modules, then a Storage file of
  // that name (a module uploaded to flash).
  G.require = function require(name) {
    name = String(name);
    if (hasOwn.call(cache, name)) return cache[name];
    if (hasOwn.call(builtins, name)) return builtins[name];
    var src = hasOwn.call(sources, name) ? sources[name]
      : profile.storage && name.length && name.length <= 28 ? host.storageRead(name) : undefined;
    if (src === undefined) throw new Error('Module "' + name + '" not found');
    var fn = host.compile(name, src);
    if (typeof fn === 'string') throw new SyntaxError(fn);
    var module = { exports: {} };
    cache[name] = module.exports;
    try {
      fn.call(module.exports, module.exports, module);
    } catch (e) {
      delete cache[name];
      throw e;
    }
    cache[name] = module.exports;
    // Like the board, keep the module's functions, not its source text.
    delete sources[name];
    return module.exports;
  };

  // load(file): the board resets and runs a Storage file (default ".bootcde") as at
  // power-up, once the current code has finished. The simulator stops every timer,
  // closes every socket and empties the module cache; globals set before stay (a
  // vm context cannot be emptied), so boot code must not depend on their absence.
  if (profile.storage) {
    G.load = function load(file) {
      var name = file === undefined ? '.bootcde' : String(file);
      G.setTimeout(function () {
        removeTimer('clearTimeout', []);
        for (var id in sockets) { var st = sockets[id]; delete sockets[id]; st.sock.end(); }
        cache = {};
        sources = {};
        var code = host.storageRead(name);
        if (code === undefined) throw new Error('File "' + name + '" not found');
        (0, eval)(code);
      }, 0);
    };
  }

  return {
    fireTimer: fireTimer,
    runDeferred: runDeferred,
    socketEvent: socketEvent,
    errorText: errorText,
    // What memory() walks besides the globals: state only these closures hold.
    roots: function () { return [timers, sockets, cache, sources]; },
  };
});
