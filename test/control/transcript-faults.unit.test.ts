import { strict as assert } from 'assert';
import type { ClientInfo } from '../../host-broker/hooks';
import { Broker } from '../../host-broker/broker';
import { createControl } from '../../host-broker/control/control';
import { FaultInjector, parseFaultSpec } from '../../host-broker/control/faults';
import { TranscriptRecorder } from '../../host-broker/control/transcript';

const info = (connId: number, clientId: string): ClientInfo => ({ connId, clientId, remoteAddress: '127.0.0.1', listener: 'tcp' });

describe('control/transcript: bounded recording', () => {
  it('keeps at most N entries per client (oldest go) and at most M clients (least recently written go)', () => {
    const t = new TranscriptRecorder({ maxEntriesPerClient: 3, maxClients: 2 });
    for (let i = 1; i <= 5; i++) t.record(info(1, 'a'), 'in', { cmd: 'publish', topic: 'x', payload: Buffer.from(String(i)), qos: 0, dup: false, retain: false } as any);
    assert.deepEqual(t.get('a').map((e) => e.payload), ['3', '4', '5']);
    t.record(info(2, 'b'), 'in', { cmd: 'pingreq' } as any);
    t.record(info(1, 'a'), 'out', { cmd: 'pingresp' } as any);
    t.record(info(3, 'c'), 'in', { cmd: 'pingreq' } as any);
    assert.deepEqual(t.clientIds().sort(), ['a', 'c'], 'b was written least recently');
    assert.equal(t.evicted, 4, '2 + 1 trimmed from a, 1 with b');
  });

  it('files CONNECT under the client id it names, before the core has filled it in', () => {
    const t = new TranscriptRecorder();
    t.record(info(9, ''), 'in', { cmd: 'connect', clientId: 'dev', protocolId: 'MQTT', protocolVersion: 4, clean: true, keepalive: 5, password: Buffer.from('pw') } as any);
    t.record(info(9, ''), 'out', { cmd: 'connack', returnCode: 0, sessionPresent: false } as any);
    const e = t.get('dev');
    assert.deepEqual(e.map((x) => x.cmd), ['connect', 'connack']);
    assert.equal((e[0] as any).password, undefined);
  });

  it('caps the payload preview', () => {
    const t = new TranscriptRecorder();
    const e = t.record(info(1, 'a'), 'in', { cmd: 'publish', topic: 'x', payload: Buffer.alloc(10_000, 0x61), qos: 0, dup: false, retain: false } as any);
    assert.equal(e.payloadBytes, 10_000);
    assert.equal(e.payload!.length, 256);
  });
});

describe('control/faults: rules', () => {
  it('applies a rule to the next N matching packets only, first rule first', () => {
    const f = new FaultInjector();
    f.add({ clientId: 'a', direction: 'out', cmd: 'puback', action: 'drop', count: 2 });
    f.add({ direction: 'out', cmd: '*', action: 'delay', ms: 5 });
    const puback = { cmd: 'puback', messageId: 1 } as any;
    assert.deepEqual(f.verdict('b', 'out', puback), { action: 'delay', ms: 5 }, 'other client: only the any-client rule');
    assert.deepEqual(f.verdict('a', 'in', puback), undefined, 'other direction');
    assert.deepEqual(f.verdict('a', 'out', puback), { action: 'drop' });
    assert.deepEqual(f.verdict('a', 'out', puback), { action: 'drop' });
    assert.equal(f.verdict('a', 'out', puback), undefined, 'both rules used up');
    assert.equal(f.list().length, 0);
  });

  it('names the bad field of a fault spec', () => {
    assert.throws(() => parseFaultSpec({ direction: 'up', cmd: 'puback', action: 'drop' }), /fault\.direction: expected "in" or "out"/);
    assert.throws(() => parseFaultSpec({ direction: 'in', cmd: 'pubak', action: 'drop' }), /fault\.cmd: expected "\*" or one of/);
    assert.throws(() => parseFaultSpec({ direction: 'in', cmd: 'puback', action: 'delay' }), /fault\.ms: a delay needs/);
    assert.throws(() => parseFaultSpec({ direction: 'in', cmd: 'puback', action: 'drop', count: 0 }), /fault\.count/);
    assert.throws(() => parseFaultSpec({ direction: 'in', cmd: 'puback', action: 'drop', ms: 3 }), /fault\.ms: only a "delay"/);
    assert.throws(() => parseFaultSpec({ direction: 'in', cmd: 'puback', action: 'drop', client: 'x' }), /fault\.client: unknown field/);
  });

  it('refuses sockets while a refusal lasts', () => {
    const f = new FaultInjector();
    const s = { remoteAddress: '127.0.0.1', listener: 'tcp' as const };
    assert.equal(f.acceptSocket(s), true);
    f.refuseConnections(10_000);
    assert.equal(f.acceptSocket(s), false);
    f.refuseConnections(0);
    assert.equal(f.acceptSocket(s), true);
    assert.throws(() => f.refuseConnections(-1), /ms: expected/);
  });
});

describe('control: the recent-message log is bounded in count and bytes', () => {
  it('drops the oldest messages first', async () => {
    const broker = new Broker();
    const control = createControl(broker, { recentMessages: 3, recentBytes: 1000 });
    try {
      for (let i = 0; i < 5; i++) await broker.publish({ topic: `n/${i}`, payload: 'x' });
      assert.deepEqual(control.messages().map((m) => m.topic), ['n/2', 'n/3', 'n/4']);
      await broker.publish({ topic: 'big/1', payload: Buffer.alloc(600) });
      await broker.publish({ topic: 'big/2', payload: Buffer.alloc(600) });
      assert.deepEqual(control.messages().map((m) => m.topic), ['big/2']);
    } finally {
      control.close();
      await broker.close();
    }
  });
});
