// The HIL agent: runs ON THE BOARD (simulated, the Linux interpreter, or a real
// ESP32/ESP8266) on top of the shipped mqtt-client bundle, and is driven over
// MQTT so every mode runs the same scenarios without the board's console.
// Needs a global HIL = {id, host, port, keepalive, wifi?} set before it runs.
//   hil/<id>/do      <- {"op":"pub","t":topic,"q":qos,"n":bytes,"k":key}
//   hil/<id>/in/#    <- anything: reported as {"ev":"got", t, q, d (dup), n (bytes), h (hash)}
//   hil/<id>/ev      -> {"ev":"conn", n (connects so far), sp (session present), err (last error)},
//                       {"ev":"pubd", k, err} when a commanded publish completes
//   hil/<id>/will    -> "gone" (the Will)
// Espruino-safe on purpose: var, no destructuring/spread, helpers defined before use.
/* global HIL */
var hilBase = 'hil/' + HIL.id + '/';
var hilConns = 0;
var hilErr = '';
var hilClient = require('mqtt-client').create({
  net: require('net'), host: HIL.host, port: HIL.port, clientId: HIL.id, clean: false,
  keepalive: HIL.keepalive, minBackoff: 200, maxBackoff: 1000,
  will: { topic: hilBase + 'will', payload: 'gone', qos: 1, retain: false },
});
var hilReport = function (o) { hilClient.publish(hilBase + 'ev', JSON.stringify(o), { qos: 1 }); };
var hilHash = function (s) {
  var h = 0;
  var i;
  for (i = 0; i < s.length; i++) h = (h * 31 + s.charCodeAt(i)) & 0xffff;
  return h;
};
var hilPayload = function (n) {
  var s = 'abcdefghijklmnopqrstuvwxyz0123456789';
  while (s.length < n) s += s;
  return s.substr(0, n);
};
hilClient.on('connect', function (sp) {
  hilConns++;
  hilReport({ ev: 'conn', n: hilConns, sp: !!sp, err: hilErr });
});
hilClient.on('error', function (e) { hilErr = e && e.message !== undefined ? String(e.message) : String(e); });
hilClient.subscribe(hilBase + 'in/#', { qos: 2 }, 0, function (t, p, info) {
  hilReport({ ev: 'got', t: t, q: info.qos, d: info.dup, n: p.length, h: hilHash(p) });
});
hilClient.subscribe(hilBase + 'do', { qos: 1 }, 0, function (t, p) {
  var m;
  try { m = JSON.parse(p); } catch (e) { m = null; }
  if (!m || m.op != 'pub') return hilReport({ ev: 'bad', p: p });
  hilClient.publish(m.t, hilPayload(m.n || 0), { qos: m.q }, function (err) {
    hilReport({ ev: 'pubd', k: m.k, err: err ? String(err.message) : '' });
  });
});
var hilGo = function () { hilClient.connect(); };
if (HIL.wifi) require('Wifi').connect(HIL.wifi.ssid, { password: HIL.wifi.password }, function (err) { if (err) console.log('wifi:', err); else hilGo(); });
else hilGo();
