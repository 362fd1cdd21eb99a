// Packet type -> handler. Only packets a client may send are here; the strict
// checks refuse the others before dispatch.
import type { Connection } from '../connection';
import { handleConnect } from './connect';
import { handlePublish } from './publish';
import { handlePuback } from './puback';
import { handlePubrec } from './pubrec';
import { handlePubrel } from './pubrel';
import { handlePubcomp } from './pubcomp';
import { handleSubscribe } from './subscribe';
import { handleUnsubscribe } from './unsubscribe';
import { handlePingreq } from './pingreq';
import { handleDisconnect } from './disconnect';

export type Handler = (conn: Connection, packet: any) => void | Promise<void>;

export const HANDLERS: Record<string, Handler | undefined> = {
  connect: handleConnect,
  publish: handlePublish,
  puback: handlePuback,
  pubrec: handlePubrec,
  pubrel: handlePubrel,
  pubcomp: handlePubcomp,
  subscribe: handleSubscribe,
  unsubscribe: handleUnsubscribe,
  pingreq: handlePingreq,
  disconnect: handleDisconnect,
};
