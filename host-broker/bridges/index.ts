// Public face of hub bridges (see README.md in this directory).
export { BridgeManager } from './manager';
export type { BridgeManagerOptions, BridgedBroker } from './manager';
export { BridgeConfigError, validateBridge, validateBridges, redactBridge, BRIDGE_DEFAULTS } from './config';
export type { BridgeConfig, BridgeStatus, BridgeStats, BridgeState, TopicMapping, Direction, BridgeTls } from './types';
