// The host broker's public face.
export { Broker, DEFAULT_LIMITS } from './broker';
export type { BrokerOptions, Limits, Logger, PublishOptions, SessionInfo } from './broker';
export type { ListenOptions, ListenerName, TcpListenerOptions, TlsListenerOptions, WsListenerOptions } from './server';
export type * from './hooks';
export { MemoryStore } from './store/memory';
export { SqliteStore } from './store/sqlite';
export type { SqliteStoreOptions } from './store/sqlite';
export type * from './store/types';
export { DEFAULT_EVENTS, eventTopic, eventPayload, topicLevel } from './events';
export type { EventsOptions } from './events';
export { SubscriptionTree } from './topics';
